import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixedClock } from '../platform/index.js';
import { testDatabases } from '../testing/index.js';
import { createAuditLog, createAuditPivotSearch } from './index.js';

describe.each(testDatabases())('audit pivot search on $name', (target) => {
  let storage: Awaited<ReturnType<typeof target.open>>;
  const clock = new FixedClock(new Date('2026-03-01T00:00:00Z'));
  const window = { from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z' };

  beforeAll(async () => {
    storage = await target.open();
    const audit = createAuditLog({ db: storage.db, clock });
    const event = (vehicle: string, jti: string) => ({
      type: 'authz.decision',
      actor: { type: 'user' as const, id: 'u-1' },
      object: { type: 'Vehicle', id: vehicle },
      action: 'vehicle:read_status',
      decision: 'allow' as const,
      details: { jti, serial: `S-${vehicle}` },
    });
    await audit.append(storage.db, event('v-1', 'jti-a'));
    clock.advance(1000);
    // Inside a caller's transaction the pivots commit with the event; outside, in one of their own.
    await storage.db.transaction().execute((trx) => audit.append(trx, event('v-2', 'jti-a')));
    clock.advance(86_400_000);
    await audit.append(storage.db, event('v-3', 'jti-a'));
  });
  afterAll(async () => {
    await storage.close();
  });

  it('finds events by a pivot in their object or details, oldest first, within the window only', async () => {
    const search = createAuditPivotSearch({ db: storage.db });
    const byJti = await search.find({ kind: 'jti', value: 'jti-a', ...window, limit: 10 });
    expect(byJti.events.map((e) => e.object?.id)).toEqual(['v-1', 'v-2']);
    expect(byJti.truncated).toBe(false);
    const byVehicle = await search.find({ kind: 'vehicle', value: 'v-2', ...window, limit: 10 });
    expect(byVehicle.events.map((e) => e.details.jti)).toEqual(['jti-a']);
    expect((await search.find({ kind: 'serial', value: 'S-v-1', ...window, limit: 10 })).events).toHaveLength(1);
    expect((await search.find({ kind: 'user', value: 'u-1', ...window, limit: 10 })).events).toHaveLength(2);
  });

  it('ignores a forged index row: an event is found only by a pivot it names, in its own time', async () => {
    const search = createAuditPivotSearch({ db: storage.db });
    const seqOf = async (vehicle: string) =>
      Number(
        (await storage.db.selectFrom('audit_events').select('seq').where('object_id', '=', vehicle).executeTakeFirst())!
          .seq,
      );
    // A hostile DBA (or a bug) appends rows: v-1's event under a jti it never used, v-3's (the next day) dated into
    // the window, and v-2's twice more. None is an event that names that pivot in that window.
    await storage.db
      .insertInto('audit_pivots')
      .values([
        { kind: 'jti', value: 'jti-forged', occurred_at: window.from, event_seq: await seqOf('v-1') },
        { kind: 'jti', value: 'jti-a', occurred_at: window.from, event_seq: await seqOf('v-3') },
        { kind: 'vehicle', value: 'v-1', occurred_at: window.from, event_seq: await seqOf('v-2') },
        { kind: 'vehicle', value: 'v-2', occurred_at: window.from, event_seq: await seqOf('v-2') },
      ])
      .execute();
    const forged = await search.find({ kind: 'jti', value: 'jti-forged', ...window, limit: 10 });
    expect([forged.events.length, forged.mismatched]).toEqual([0, 1]);
    const moved = await search.find({ kind: 'jti', value: 'jti-a', ...window, limit: 10 });
    expect(moved.events.map((e) => e.object?.id)).toEqual(['v-1', 'v-2']);
    const grafted = await search.find({ kind: 'vehicle', value: 'v-1', ...window, limit: 10 });
    expect([grafted.events.map((e) => e.object?.id), grafted.mismatched]).toEqual([['v-1'], 1]);
    const twice = await search.find({ kind: 'vehicle', value: 'v-2', ...window, limit: 10 });
    expect(twice.events.map((e) => e.object?.id)).toEqual(['v-2']);
  });

  it('says when the limit cut the answer', async () => {
    const search = createAuditPivotSearch({ db: storage.db });
    const cut = await search.find({ kind: 'jti', value: 'jti-a', ...window, limit: 1 });
    expect([cut.events.length, cut.truncated]).toEqual([1, true]);
  });
});
