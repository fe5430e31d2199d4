import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../audit/index.js';
import { FixedClock } from '../platform/index.js';
import { testDatabases } from '../testing/index.js';
import { findOrCreateVehicle } from '../vehicles/index.js';
import { createRelationshipStore } from './store.js';

describe.each(testDatabases())('relationship store on $name', (target) => {
  let storage: Awaited<ReturnType<typeof target.open>>;
  const clock = new FixedClock(new Date('2026-05-01T00:00:00Z'));
  const DAY = 86400_000;

  beforeAll(async () => {
    storage = await target.open();
  });
  afterAll(async () => {
    await storage.close();
  });

  it('keeps who granted what, when, until when, and who ended it; answers what is in force at any moment', async () => {
    const audit = createAuditLog({ db: storage.db, clock });
    const rel = createRelationshipStore({ db: storage.db, audit, clock });
    const now = clock.now();
    await sql`insert into users (id, email, display_name, status, credential_epoch, created_at, updated_at) values ('u1', 'u1@x', 'U1', 'active', 0, ${now.toISOString()}, ${now.toISOString()})`.execute(
      storage.db,
    );
    const vehicle = (
      await storage.db.transaction().execute((trx) => findOrCreateVehicle(trx, { vin: '5YJ3E1EA7KF000099', at: now }))
    ).vehicle.id;
    const owner = await rel.grant(
      { type: 'operator', id: 'ops' },
      { kind: 'ownership', userId: 'u1', vehicleId: vehicle, validFrom: new Date(now.getTime() - 10 * DAY) },
    );
    const lease = await rel.grant(
      { type: 'user', id: 'u1' },
      {
        kind: 'delegation',
        userId: 'u1',
        vehicleId: vehicle,
        attributes: { commands: ['lock'] },
        validUntil: new Date(now.getTime() + 2 * DAY),
      },
    );
    expect((await rel.inForce({ vehicleId: vehicle })).map((r) => r.id).sort()).toEqual([owner.id, lease.id].sort());
    expect((await rel.inForce({ vehicleId: vehicle }, new Date(now.getTime() + 3 * DAY))).map((r) => r.id)).toEqual([
      owner.id,
    ]);
    expect(await rel.inForce({ vehicleId: vehicle }, new Date(now.getTime() - 11 * DAY))).toHaveLength(0);

    clock.advance(DAY);
    await rel.end({ type: 'user', id: 'u1' }, owner.id, 'sold');
    expect(await rel.inForce({ vehicleId: vehicle, kind: 'ownership' })).toHaveLength(0);
    // History: the row is still there with who ended it, and the past still answers as it was.
    const row = await storage.db
      .selectFrom('relationships')
      .selectAll()
      .where('id', '=', owner.id)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ granted_by: 'operator:ops', ended_by: 'user:u1', end_reason: 'sold' });
    expect(await rel.inForce({ vehicleId: vehicle, kind: 'ownership' }, now)).toHaveLength(1);
    await expect(rel.end({ type: 'user', id: 'u1' }, owner.id, 'again')).rejects.toMatchObject({
      code: 'ERR_CONFLICT',
    });
    const events = await audit.list({ typePrefix: 'relationships.' });
    expect(events.map((e) => e.type).sort()).toEqual([
      'relationships.ended',
      'relationships.granted',
      'relationships.granted',
    ]);
  });
});
