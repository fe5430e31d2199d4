import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/platform/index.js';
import { type AuthorizationFacts, createEntityLoader } from '../src/policy/index.js';
import { createAuthorizationFacts } from '../src/server/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';

/**
 * Issue 10 item 2: a list is decided in batches, not one object at a time. The entity loader reads a batch of
 * vehicles, and the caller's own records for all of them, with the same number of queries whatever the batch size
 * (counted at the facts port, over the real tables of a seeded deployment).
 */
describe.each(testEngines())('list decisions read a batch with a fixed number of queries (%s)', (database) => {
  let cp: TestCarapace;
  let ids: string[] = [];
  beforeAll(async () => {
    cp = await startTestCarapace({ database, overrides: { seedDemo: true } });
    const db = cp.platform.storage.db;
    const northwind = (
      await db.selectFrom('tenants').select(['id']).where('name', '=', 'Northwind Logistics').executeTakeFirstOrThrow()
    ).id;
    const at = new Date(Date.now() - 60_000).toISOString();
    ids = Array.from({ length: 120 }, (_, i) => `00000000-0000-4000-8000-${String(900_000 + i).padStart(12, '0')}`);
    await db
      .insertInto('vehicles')
      .values(ids.map((id) => ({ id, vin: null, created_at: at })))
      .execute();
    await db
      .insertInto('relationships')
      .values(
        ids.map((id) => ({
          id: `rel-${id}`,
          kind: 'fleet_vehicle' as const,
          user_id: null,
          tenant_id: northwind,
          application_id: null,
          vehicle_id: id,
          group_id: null,
          account_id: null,
          attributes: '{}',
          granted_by: 'system:test',
          granted_at: at,
          valid_from: at,
          valid_until: null,
          ended_at: null,
          ended_by: null,
          end_reason: null,
        })),
      )
      .execute();
  }, 120_000);
  afterAll(async () => cp?.stop());

  /** The real facts, with every call counted by name. */
  const counted = () => {
    const calls = new Map<string, number>();
    const real = createAuthorizationFacts(cp.platform.storage.db);
    const facts = new Proxy(real, {
      get(target, name: string) {
        const fn = target[name as keyof AuthorizationFacts] as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          calls.set(name, (calls.get(name) ?? 0) + 1);
          return fn(...args);
        };
      },
    });
    return { calls, load: createEntityLoader({ facts, clock: systemClock }) };
  };

  it('loads 1, 10 and 120 vehicles, and the caller records for them, with the same queries', async () => {
    const fiona = await cp.platform.directory.findUserByEmail('fiona@northwind.example');
    const principal = { kind: 'user' as const, userId: fiona!.id, clientId: 'carapace-fleet-console' };
    const seen: string[] = [];
    for (const n of [1, 10, 120]) {
      const { calls, load } = counted();
      const loaded = await load.vehicles(ids.slice(0, n));
      expect(loaded.filter((l) => l.object !== null)).toHaveLength(n);
      const callers = await load.callerContexts(principal, ids.slice(0, n));
      expect(callers.size).toBe(n);
      seen.push(JSON.stringify([...calls.entries()].sort()));
    }
    expect(new Set(seen).size).toBe(1);
    expect(JSON.parse(seen[0]!)).toEqual([
      ['relationshipsInForce', 2],
      ['vehicles', 1],
    ]);
  });
});
