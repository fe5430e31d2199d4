import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEntityCache, type EntityCache } from '../src/policy/index.js';
import { createAuthorizationFacts } from '../src/server/index.js';
import { readChangeCounter, type Storage } from '../src/storage/index.js';
import { testDatabases } from '../src/testing/index.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const hours = (n: number) => new Date(T0 + n * 3_600_000).toISOString();

describe.each(testDatabases().map((d) => [d.name, d] as const))('the entity cache on %s', (_name, engine) => {
  let storage: Storage;
  let cache: EntityCache;
  let now = T0;
  const [tenant, owner, driver, other, vehicle] = [
    randomUUID(),
    randomUUID(),
    randomUUID(),
    randomUUID(),
    randomUUID(),
  ];
  const driverOf = { kind: 'user' as const, userId: driver, clientId: 'owner-app' };
  const delegationOf = async (p = driverOf) => {
    const loader = await cache.loader();
    return (await loader.callerContext(p, vehicle, null)).context.delegation ?? null;
  };
  const counter = () => readChangeCounter(storage.db, 'authorization');

  beforeAll(async () => {
    storage = await engine.open();
    const db = storage.db;
    const at = hours(-100);
    await db.insertInto('tenants').values({ id: tenant, name: 'Home', kind: 'consumer', created_at: at }).execute();
    for (const id of [owner, driver, other])
      await db
        .insertInto('users')
        .values({
          id,
          email: `${id}@x.example`,
          display_name: id,
          status: 'active',
          credential_epoch: 0,
          created_at: at,
          updated_at: at,
        })
        .execute();
    await db.insertInto('vehicles').values({ id: vehicle, vin: null, created_at: at }).execute();
    const rel = { granted_by: `user:${owner}`, granted_at: at, vehicle_id: vehicle, tenant_id: tenant };
    await db
      .insertInto('relationships')
      .values([
        { ...rel, id: randomUUID(), kind: 'ownership', user_id: owner, valid_from: at, attributes: '{}' },
        // A driver's window that opens an hour from now and closes an hour later.
        {
          ...rel,
          id: randomUUID(),
          kind: 'delegation',
          user_id: driver,
          valid_from: hours(1),
          valid_until: hours(2),
          attributes: JSON.stringify({ commands: ['lock'] }),
        },
      ])
      .execute();
    cache = createEntityCache({
      facts: createAuthorizationFacts(db),
      clock: { now: () => new Date(now) },
      changes: counter,
    });
  });
  afterAll(async () => storage?.close());

  it('judges a cached relationship at each request clock: a window opens and closes unchanged', async () => {
    const before = await counter();
    now = T0;
    expect(await delegationOf()).toBeNull();
    now = Date.parse(hours(1.5));
    expect(await delegationOf()).not.toBeNull();
    now = Date.parse(hours(2));
    expect(await delegationOf()).toBeNull();
    // A clock set back before the entry was read asks the database again.
    now = Date.parse(hours(1.5));
    expect(await delegationOf()).not.toBeNull();
    expect(await counter()).toBe(before);
  });

  it('keys entries by every field asked: another person never gets the driver’s delegation', async () => {
    now = Date.parse(hours(1.5));
    expect(await delegationOf()).not.toBeNull();
    expect(await delegationOf({ kind: 'user', userId: other, clientId: 'owner-app' })).toBeNull();
    const loader = await cache.loader();
    expect((await loader.principal({ kind: 'user', userId: other, clientId: 'owner-app' }))?.uid.id).toBe(other);
  });

  it('a committed change moves the counter; the next load reads it (ended delegation, disabled user)', async () => {
    now = Date.parse(hours(1.5));
    expect(await delegationOf()).not.toBeNull();
    const before = await counter();
    await storage.db
      .updateTable('relationships')
      .set({ ended_at: hours(1.2), ended_by: `user:${owner}` })
      .where('user_id', '=', driver)
      .execute();
    expect(await counter()).not.toBe(before);
    expect(await delegationOf()).toBeNull();
    expect(await (await cache.loader()).principal(driverOf)).not.toBeNull();
    await storage.db.updateTable('users').set({ status: 'disabled' }).where('id', '=', driver).execute();
    expect(await (await cache.loader()).principal(driverOf)).toBeNull();
  });

  it('fails closed: without a readable counter there is no loader, so nothing comes from the cache', async () => {
    const n = await counter();
    await sql`DELETE FROM change_counters WHERE name = 'authorization'`.execute(storage.db);
    try {
      await expect(cache.loader()).rejects.toThrow(/change counter authorization is missing/);
    } finally {
      await sql`INSERT INTO change_counters (name, n) VALUES ('authorization', ${Number(n) + 1})`.execute(storage.db);
    }
    expect(await (await cache.loader()).principal(driverOf)).toBeNull();
  });
});
