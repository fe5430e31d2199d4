import { afterEach, describe, expect, it } from 'vitest';
import { FixedClock } from '../platform/index.js';
import type { Storage } from '../storage/index.js';
import { testDatabases } from '../testing/index.js';
import { type CredentialChange, RevocationCache } from './revocation-cache.js';

const clock = new FixedClock(Date.parse('2026-03-01T10:00:00.000Z'));
const closing: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closing.splice(0).reverse()) await c();
});

let n = 0;
async function certificate(db: Storage['db'], status: 'active' | 'revoked' = 'active'): Promise<string> {
  const serial = `serial-${(n++).toString(16)}-${Math.random().toString(16).slice(2)}`;
  await db
    .insertInto('certificates')
    .values({
      serial,
      issuer: 'root',
      profile: 'operator',
      device_id: null,
      subject: 'op',
      thumbprint: `t-${serial}`,
      spki_sha256: `k-${serial}`,
      not_before: '2026-01-01T00:00:00.000Z',
      not_after: '2027-01-01T00:00:00.000Z',
      status,
      issued_at: '2026-01-01T00:00:00.000Z',
      predecessor_serial: null,
      overlap_until: null,
      first_used_at: null,
      superseded_at: null,
      revoked_at: null,
      revocation_reason: null,
      pem: 'x',
    })
    .execute();
  return serial;
}

const revoke = (db: Storage['db'], serial: string) =>
  db.updateTable('certificates').set({ status: 'revoked' }).where('serial', '=', serial).execute();

describe.each(testDatabases().map((d) => [d.name, d] as const))('the revocation view (%s)', (name, database) => {
  async function setup(gapGraceMs?: number) {
    const storage = await database.open();
    closing.push(() => storage.close());
    const cache = new RevocationCache({ db: storage.db, clock, ...(gapGraceMs === undefined ? {} : { gapGraceMs }) });
    await cache.refresh();
    const seen: CredentialChange[] = [];
    cache.onChange((c) => seen.push(c));
    return { db: storage.db, cache, seen };
  }

  it('logs a status change in its own transaction, and nothing for an update that changes no status', async () => {
    const { db } = await setup();
    const serial = await certificate(db);
    await db.updateTable('certificates').set({ first_used_at: '2026-02-01T00:00:00.000Z' }).execute();
    expect(await db.selectFrom('credential_changes').selectAll().execute()).toEqual([]);
    await db
      .transaction()
      .execute(async (trx) => {
        await revoke(trx, serial);
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    expect(await db.selectFrom('credential_changes').selectAll().execute()).toEqual([]);
    await revoke(db, serial);
    const rows = await db.selectFrom('credential_changes').select(['serial', 'device_id']).execute();
    expect(rows).toEqual([{ serial, device_id: null }]);
  });

  it('takes in a change another process committed by reading only the change log, and tells its listeners', async () => {
    const { db, cache, seen } = await setup();
    const serial = await certificate(db);
    await cache.poll();
    expect(cache.certificate(serial)).toEqual({ state: 'ok' });
    await revoke(db, serial);
    expect(cache.certificate(serial)).toEqual({ state: 'ok' });
    await cache.poll();
    expect(cache.certificate(serial)).toEqual({ state: 'revoked' });
    expect(seen).toEqual([{ kind: 'certificates-revoked', serials: [serial], deviceIds: [] }]);
    await cache.poll();
    expect(seen).toHaveLength(1);
  });

  it('the log only says where to look: a row naming a certificate whose status did not change alters nothing', async () => {
    const { db, cache, seen } = await setup();
    const serial = await certificate(db);
    await db.insertInto('credential_changes').values({ serial, device_id: null }).execute();
    await cache.poll();
    expect(cache.certificate(serial)).toEqual({ state: 'ok' });
    expect(seen).toEqual([]);
  });

  it('a change that commits after a newer one is still taken in (sequence numbers are taken before commit)', async () => {
    const { db, cache } = await setup();
    const [early, late] = [await certificate(db), await certificate(db)];
    if (name === 'sqlite') {
      // One writer at a time: commit order is sequence order, so the race cannot happen; check the plain path.
      await revoke(db, early);
      await revoke(db, late);
      await cache.poll();
      expect([cache.certificate(early).state, cache.certificate(late).state]).toEqual(['revoked', 'revoked']);
      return;
    }
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let taken!: () => void;
    const logged = new Promise<void>((r) => (taken = r));
    const slow = db.transaction().execute(async (trx) => {
      await revoke(trx, early);
      taken();
      await held;
    });
    await logged;
    await revoke(db, late);
    await cache.poll();
    expect([cache.certificate(early).state, cache.certificate(late).state]).toEqual(['ok', 'revoked']);
    release();
    await slow;
    await cache.poll();
    expect(cache.certificate(early)).toEqual({ state: 'revoked' });
  });

  it('a sequence number that never commits is waited for, then a full reload covers the gap', async () => {
    const { db, cache } = await setup(0);
    const [lost, later] = [await certificate(db), await certificate(db)];
    await db
      .transaction()
      .execute(async (trx) => {
        await revoke(trx, lost);
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    await revoke(db, later);
    // A revocation written without the log (as if its row were pruned): only the full reload can find it.
    await db.transaction().execute(async (trx) => {
      await revoke(trx, lost);
      await trx.deleteFrom('credential_changes').where('serial', '=', lost).execute();
    });
    await cache.poll();
    expect(cache.certificate(later)).toEqual({ state: 'revoked' });
    // PostgreSQL left a hole in the sequence (the rolled-back change); SQLite did not, and never needs the reload.
    expect(cache.certificate(lost).state).toBe(name === 'postgres' ? 'revoked' : 'ok');
  });
});
