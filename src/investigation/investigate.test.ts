import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../audit/index.js';
import { CarapaceError, FixedClock } from '../platform/index.js';
import { testDatabases } from '../testing/index.js';
import { findOrCreateVehicle } from '../vehicles/index.js';
import { createInvestigator, type Investigator } from './index.js';

const window = { from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' };

describe.each(testDatabases())('investigation bounds and windows on $name', (target) => {
  let storage: Awaited<ReturnType<typeof target.open>>;
  let investigator: Investigator;
  const vehicles: string[] = [];
  const clock = new FixedClock(new Date('2026-03-01T12:00:00Z'));

  beforeAll(async () => {
    storage = await target.open();
    const { db } = storage;
    for (let i = 0; i < 101; i++)
      vehicles.push((await findOrCreateVehicle(db, { vin: null, at: clock.now() })).vehicle.id);
    vehicles.sort();
    // 500 jobs on the first vehicle, and a 501st (last in id order) on the second.
    const at = clock.now().toISOString();
    const job = (i: number) => ({
      id: `job-${String(i).padStart(3, '0')}`,
      vehicle_id: i < 500 ? vehicles[0]! : vehicles[1]!,
      device_id: null,
      tenant_id: null,
      batch_id: null,
      command: 'lock',
      params: '{}',
      params_hash: 'h',
      requester_id: 'u-1',
      client_id: 'c-1',
      state: 'rejected' as const,
      reason: null,
      retry: null,
      decision_record: '{}',
      decision_hash: 'h',
      policy_version: 'p-1',
      created_at: at,
      expires_at: at,
      updated_at: at,
      counter: null,
      kid: null,
      envelope_signed: null,
      envelope_sig: null,
      ack_signed: null,
      ack_sig: null,
    });
    await db
      .insertInto('command_jobs')
      .values(Array.from({ length: 501 }, (_, i) => job(i)))
      .execute();
    const audit = createAuditLog({ db, clock });
    await db.transaction().execute(async (trx) => {
      for (const id of vehicles)
        await audit.append(trx, {
          type: 'authz.decision',
          actor: { type: 'user', id: 'u-wide' },
          object: { type: 'Vehicle', id },
          action: 'vehicle:read_status',
          decision: 'allow',
          details: { jti: 'jti-wide' },
        });
      for (let i = 0; i < 501; i++)
        await audit.append(trx, {
          type: 'commands.job.transitioned',
          actor: { type: 'system', id: null },
          object: { type: 'CommandJob', id: job(i).id },
          action: 'command:transition',
          decision: 'allow',
          details: { jti: 'jti-jobs' },
        });
      // A mesh: one token over 100 events that share 20 requests, traces, serials and devices, five events each.
      for (let i = 0; i < 100; i++)
        await audit.append(trx, {
          type: 'telemetry.batch.rejected',
          actor: { type: 'device', id: `dev-${i % 20}` },
          action: 'telemetry:ingest',
          decision: 'deny',
          context: { requestId: `req-${i % 20}`, traceId: `trace-${i % 20}`, sourceIp: null },
          details: { jti: 'jti-mesh', serial: `serial-${i % 20}` },
        });
    });
    investigator = createInvestigator({
      db,
      clock,
      proofs: { inclusionOfEach: () => Promise.reject(new Error('not asked for')) },
    });
  });
  afterAll(async () => {
    await storage.close();
  });

  it('says every vehicle past the first hundred exists too, bounding only their telemetry', async () => {
    const a = await investigator.investigate({ pivot: 'jti', value: 'jti-wide', ...window });
    expect(a.vehicles.map((v) => v.vehicleId)).toEqual(vehicles);
    expect(a.vehicles.filter((v) => !v.known)).toEqual([]);
    expect(a.vehicles.filter((v) => v.telemetry !== null)).toHaveLength(100);
    expect(a.truncation.some((t) => t.startsWith('maxVehicles'))).toBe(true);
  });

  it("finds the vehicle of a job past the first 500 job ids, not only the others' vehicle", async () => {
    const a = await investigator.investigate({ pivot: 'jti', value: 'jti-jobs', ...window, maxHops: 0 });
    expect(a.commands).toHaveLength(501);
    expect(a.vehicles.map((v) => v.vehicleId)).toEqual([vehicles[0], vehicles[1]]);
  });

  it('stops reading when links keep finding the same events, and says so', async () => {
    const follow = ['request', 'trace', 'serial', 'device'] as const;
    // 100 events, then 80 links that each read 5 of them again: 500 rows for 100 events, over 4 x 110.
    const a = await investigator.investigate({ pivot: 'jti', value: 'jti-mesh', ...window, follow, maxEvents: 110 });
    expect(a.events).toHaveLength(100);
    expect(a.truncation.some((t) => t.startsWith('maxRead'))).toBe(true);
    const roomy = await investigator.investigate({
      pivot: 'jti',
      value: 'jti-mesh',
      ...window,
      follow,
      maxEvents: 200,
    });
    expect(roomy.truncation.filter((t) => t.startsWith('maxRead'))).toEqual([]);
  });

  it('refuses a time without an offset and a day that does not exist, rather than guessing', async () => {
    const reason = (q: { from?: string; to?: string }) =>
      investigator.investigate({ pivot: 'jti', value: 'jti-wide', ...q }).then(
        () => 'accepted',
        (e: unknown) => (e instanceof CarapaceError ? `${e.code} ${String(e.context?.reason)}` : String(e)),
      );
    // Without Z or an offset, Date reads the server's time zone: the window would move with the host's TZ.
    expect(await reason({ from: '2026-03-01T00:00:00', to: window.to })).toBe('ERR_VALIDATION invalid_time');
    // Date rolls February 30th over to March 2nd silently.
    expect(await reason({ from: window.from, to: '2026-02-30T00:00:00Z' })).toBe('ERR_VALIDATION invalid_time');
    expect(await reason({ from: window.from, to: '2026-03-01T24:00:00Z' })).toBe('ERR_VALIDATION invalid_time');
    expect(await reason({ from: '2026-03-01T01:00:00+01:00', to: '2026-03-01T00:00:00.5Z' })).toBe('accepted');
  });

  it('treats to as exclusive and reads offsets as the instant they name', async () => {
    const a = await investigator.investigate({
      pivot: 'jti',
      value: 'jti-wide',
      from: '2026-03-01T13:00:00+01:00',
      to: '2026-03-01T12:00:00.001Z',
    });
    expect(a.window).toEqual({ from: '2026-03-01T12:00:00.000Z', to: '2026-03-01T12:00:00.001Z' });
    expect(a.vehicles).toHaveLength(101);
    const none = await investigator.investigate({
      pivot: 'jti',
      value: 'jti-wide',
      from: '2026-03-01T11:00:00Z',
      to: '2026-03-01T12:00:00Z',
    });
    expect(none.vehicles).toHaveLength(0);
  });
});
