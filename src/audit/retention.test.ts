import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { join } from 'node:path';
import canonicalize from 'canonicalize';
import { type Kysely, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { verifyConsistency, verifyInclusion } from '../../test/merkle-verifier.js';
import { createLogger, FixedClock } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { memoryAuditKeys, testDatabases } from '../testing/index.js';
import { createAuditEvidence, createAuditLog, type StoredAuditEvent } from './index.js';
import { trustedAuditKeys, verifyAuditTrail } from './index.js';
import { pruneBody } from './horizon.js';
import { rowLeafHash } from './leaf.js';

const DAY = 86_400_000;
const unhex = (h: string) => Buffer.from(h, 'hex');
// Independent of the code under test: canonicalize (RFC 8785) and SHA-256(0x00 || bytes).
const leafOf = (e: StoredAuditEvent) =>
  createHash('sha256')
    .update(Buffer.of(0))
    .update(canonicalize(e) ?? '')
    .digest();

type Target = ReturnType<typeof testDatabases>[number];

/**
 * A trail of 11 events over two checkpoints (5 and 8) made 40 days ago and one (11) made now, with 30 days of
 * retention: a prune may remove the first 8 leaves and no more.
 */
async function aged(target: Target, days = 30, keepFrom?: () => Promise<number | null>) {
  const storage = await target.open();
  const clock = new FixedClock(new Date('2026-03-01T00:00:00Z'));
  const keyDir = join(storage.dataDir, 'pki');
  const evidence = await createAuditEvidence({
    db: storage.db,
    clock,
    log: createLogger('silent'),
    keys: memoryAuditKeys(),
    keyDir,
    settings: { checkpointInterval: 60, sealSettle: 0, checkpointFile: null, retention: { days, interval: 3600 } },
    ...(keepFrom ? { keepFrom } : {}),
  });
  const audit = createAuditLog({ db: storage.db, clock });
  let n = 0;
  const append = async (count: number) => {
    for (let i = 0; i < count; i++)
      await audit.append(storage.db, {
        type: 'pki.test.event',
        actor: { type: 'system' },
        action: 'test',
        decision: 'info',
        details: { i: ++n, vehicleId: `vehicle-${n}` },
      });
    return evidence.sealer.checkpoint();
  };
  await append(5);
  await append(3);
  clock.advance(40 * DAY);
  await append(3);
  const op = { actor: { type: 'operator' as const, id: 'alice' } };
  const verifyNow = () => verifyAuditTrail({ db: storage.db, keys: trustedAuditKeys(keyDir) });
  return { storage, clock, evidence, audit, append, op, verifyNow, db: storage.db };
}
type World = Awaited<ReturnType<typeof aged>>;

/** The DBA's first move: switch off the append-only triggers of the named audit tables. */
async function dropTriggers(w: World, tables: string[]): Promise<void> {
  const pg = w.storage.dialect === 'postgres';
  for (const table of tables) {
    const names = pg ? [`${table}_no_change`] : [`${table}_no_update`, `${table}_no_delete`];
    for (const name of names)
      await sql.raw(pg ? `drop trigger ${name} on ${table}` : `drop trigger ${name}`).execute(w.db);
  }
}

async function checkpoints(db: Kysely<Database>) {
  const rows = await db.selectFrom('audit_checkpoints').selectAll().orderBy('tree_size').execute();
  return new Map(rows.map((r) => [Number(r.tree_size), r.root_hash]));
}

/** Every surviving sealed event proves its inclusion in the latest checkpoint to the outside verifier. */
async function survivorsProve(w: World, size: number, root: string): Promise<number> {
  const events = await w.audit.list({ limit: 1000 });
  let proved = 0;
  for (const e of events) {
    const p = await w.evidence.proofs.inclusion(e.id, size).catch(() => null);
    if (!p) continue;
    expect(verifyInclusion(leafOf(e), p.leafIndex, size, p.auditPath.map(unhex), unhex(root))).toBe(true);
    proved++;
  }
  return proved;
}

async function consistentWith(w: World, first: number, second: number, roots: Map<number, string>) {
  const c = await w.evidence.proofs.consistency(first, second);
  return verifyConsistency(first, second, unhex(roots.get(first)!), unhex(roots.get(second)!), c.proof.map(unhex));
}

describe.each(testDatabases())('audit retention on $name', (target) => {
  it("never prunes what the SIEM export still needs, and takes the pruned events' pivots with them", async () => {
    let pending: number | null = 3;
    const w = await aged(target, 30, () => Promise.resolve(pending));
    const pivots = () => w.db.selectFrom('audit_pivots').select('value').where('kind', '=', 'vehicle').execute();
    try {
      // Leaf 3 not exported yet: no checkpoint lies at or below it, so nothing goes.
      expect(await w.evidence.retention.prune(w.op)).toMatchObject({ toLeaf: 0, events: 0, stoppedBy: 'export' });
      pending = 6;
      expect(await w.evidence.retention.prune(w.op)).toMatchObject({ toLeaf: 5, events: 5, stoppedBy: 'export' });
      expect((await pivots()).map((p) => p.value).sort()).toEqual(
        ['vehicle-6', 'vehicle-7', 'vehicle-8'].concat(['vehicle-9', 'vehicle-10', 'vehicle-11']).sort(),
      );
      pending = null;
      expect(await w.evidence.retention.prune(w.op)).toMatchObject({ toLeaf: 8, stoppedBy: 'retention' });
      expect((await pivots()).map((p) => p.value).sort()).toEqual(['vehicle-10', 'vehicle-11', 'vehicle-9']);
      // A surviving event's index row stays append-only: only a pruned event's row may go.
      await expect(w.db.deleteFrom('audit_pivots').where('value', '=', 'vehicle-9').execute()).rejects.toThrow(
        /append-only/,
      );
      expect(await w.verifyNow()).toMatchObject({ ok: true, horizon: 8 });
    } finally {
      await w.storage.close();
    }
  });

  it('prunes up to a signed checkpoint; the rest verifies and every proof still holds', async () => {
    const w = await aged(target);
    try {
      const dry = await w.evidence.retention.prune({ dryRun: true, ...w.op });
      expect(dry).toMatchObject({ dryRun: true, fromLeaf: 0, toLeaf: 8, events: 8, stoppedBy: 'retention' });
      expect((await w.audit.list({ limit: 100 })).length).toBe(11);
      expect(await w.evidence.retention.prune(w.op)).toMatchObject({ dryRun: false, toLeaf: 8, events: 8 });
      const left = await w.audit.list({ limit: 100 });
      expect(left.map((e) => e.type)).toEqual(['audit.retention.pruned', ...Array(3).fill('pki.test.event')]);
      expect(left[0]).toMatchObject({ actor: { id: 'alice' }, details: { fromLeaf: 0, toLeaf: 8, events: 8 } });
      const latest = (await w.evidence.sealer.checkpoint())!;
      expect(latest.treeSize).toBe(12);
      expect(await w.verifyNow()).toMatchObject({ ok: true, horizon: 8, leaves: 4, findings: [] });

      // Inclusion of every survivor, and consistency from checkpoints below, at and above the horizon.
      expect(await survivorsProve(w, 12, latest.rootHash)).toBe(4);
      const roots = await checkpoints(w.db);
      for (const first of [5, 8, 11]) expect(await consistentWith(w, first, 12, roots)).toBe(true);
      await expect(w.evidence.proofs.inclusion(left.at(-1)!.id, 8)).rejects.toMatchObject({
        code: 'ERR_AUDIT_NOT_SEALED',
      });

      // A second prune goes on from the kept frontier; the oldest checkpoint still proves consistent.
      w.clock.advance(40 * DAY);
      const after = (await w.append(2))!;
      expect(await w.evidence.retention.prune(w.op)).toMatchObject({ fromLeaf: 8, toLeaf: 12 });
      const final = (await w.evidence.sealer.checkpoint())!;
      const all = await checkpoints(w.db);
      for (const first of [5, 8, 11, after.treeSize])
        expect(await consistentWith(w, first, final.treeSize, all)).toBe(true);
      expect(await survivorsProve(w, final.treeSize, final.rootHash)).toBe(3);
      expect(await w.verifyNow()).toMatchObject({ ok: true, horizon: 12 });
    } finally {
      await w.storage.close();
    }
  });

  it('never prunes past a legal hold, audits holds and their release, and refuses bad holds', async () => {
    const w = await aged(target);
    try {
      const hold = await w.evidence.holds.add({ fromSeq: 4, toSeq: 4, reason: 'case 7' }, w.op);
      // The horizon stops at the last checkpoint before the held event (none: nothing is pruned).
      expect(await w.evidence.retention.prune(w.op)).toMatchObject({ toLeaf: 0, stoppedBy: 'hold' });
      const events = await w.audit.list({ limit: 100 });
      expect(events.find((e) => e.details.i === 4)).toBeDefined();

      await w.evidence.holds.release(hold.id, 'case closed', w.op);
      const window = await w.evidence.holds.add(
        { from: '2026-03-01T00:00:00.000Z', to: '2026-03-01T00:00:00.000Z', reason: 'window' },
        w.op,
      );
      expect(await w.evidence.retention.prune(w.op)).toMatchObject({ toLeaf: 0, stoppedBy: 'hold' });
      await w.evidence.holds.release(window.id, 'done', w.op);
      expect(await w.evidence.retention.prune(w.op)).toMatchObject({ toLeaf: 8 });
      expect((await w.evidence.holds.list()).map((h) => h.released?.reason)).toEqual(['case closed', 'done']);
      const types = (await w.audit.list({ typePrefix: 'audit.hold.' })).map((e) => e.type);
      expect(types.sort()).toEqual([
        'audit.hold.added',
        'audit.hold.added',
        'audit.hold.released',
        'audit.hold.released',
      ]);

      const code = (p: Promise<unknown>) =>
        p.then(
          () => 'ok',
          (e: { code?: string }) => e.code,
        );
      expect(await code(w.evidence.holds.add({ fromSeq: 9, toSeq: 3, reason: 'x' }, w.op))).toBe('ERR_VALIDATION');
      expect(await code(w.evidence.holds.add({ from: '2026-02-01', to: '2026-01-01', reason: 'x' }, w.op))).toBe(
        'ERR_VALIDATION',
      );
      expect(await code(w.evidence.holds.add({ fromSeq: 1, to: '2026-01-01', reason: 'x' }, w.op))).toBe(
        'ERR_VALIDATION',
      );
      expect(await code(w.evidence.holds.release('00000000-0000-4000-8000-000000000000', 'x', w.op))).toBe(
        'ERR_NOT_FOUND',
      );
      expect(await code(w.evidence.holds.release(hold.id, 'again', w.op))).toBe('ERR_CONFLICT');
    } finally {
      await w.storage.close();
    }
  });

  it('a hold is released only by a signed release: an appended release row or an edited hold keeps it', async () => {
    const w = await aged(target);
    try {
      const hold = await w.evidence.holds.add({ fromSeq: 4, toSeq: 4, reason: 'case 8' }, w.op);
      // A release row anyone can append (the table is append-only, no trigger stands in the way).
      await w.db
        .insertInto('audit_hold_releases')
        .values({ hold_id: hold.id, reason: 'dba', released_by: 'operator:dba', released_at: '2026-04-01' })
        .execute();
      expect(await w.evidence.retention.prune(w.op)).toMatchObject({ toLeaf: 0, stoppedBy: 'hold' });
      expect((await w.verifyNow()).findings.map((f) => f.kind)).toContain('hold_forged');
    } finally {
      await w.storage.close();
    }
    const v = await aged(target);
    try {
      // A DBA narrows a hold behind the trigger: its signature no longer covers it, so it keeps everything.
      const hold = await v.evidence.holds.add({ fromSeq: 4, toSeq: 4, reason: 'case 9' }, v.op);
      await dropTriggers(v, ['audit_holds']);
      await sql`update audit_holds set from_seq = 100, to_seq = 100 where id = ${hold.id}`.execute(v.db);
      expect(await v.evidence.retention.prune(v.op)).toMatchObject({ toLeaf: 0, stoppedBy: 'hold' });
      expect((await v.verifyNow()).findings.map((f) => f.kind)).toContain('hold_forged');
      // Released by the service (signed over the hold as it now stands), then a new hold on the same seq.
      await v.evidence.holds.release(hold.id, 'reviewed', v.op);
      const again = await v.evidence.holds.add({ fromSeq: 4, toSeq: 4, reason: 'case 9, reopened' }, v.op);
      expect(await v.evidence.retention.prune(v.op)).toMatchObject({ toLeaf: 0, stoppedBy: 'hold' });
      await v.evidence.holds.release(again.id, 'closed', v.op);
      expect(await v.evidence.retention.prune(v.op)).toMatchObject({ toLeaf: 8 });
      expect(await v.verifyNow()).toMatchObject({ ok: true });
    } finally {
      await v.storage.close();
    }
    const d = await aged(target);
    try {
      // A DBA deletes a hold's row behind the trigger: its audit.hold.added event still pins the range.
      const hold = await d.evidence.holds.add({ fromSeq: 4, toSeq: 4, reason: 'case 10' }, d.op);
      await dropTriggers(d, ['audit_holds']);
      await sql`delete from audit_holds where id = ${hold.id}`.execute(d.db);
      expect(await d.evidence.retention.prune(d.op)).toMatchObject({ toLeaf: 0, stoppedBy: 'hold' });
      expect((await d.verifyNow()).findings.map((f) => f.kind)).toContain('hold_forged');
    } finally {
      await d.storage.close();
    }
  });

  it('a hold takes only ISO 8601 instants and safe seqs: a window it cannot compare is refused', async () => {
    const w = await aged(target);
    try {
      const code = (range: Record<string, unknown>) =>
        w.evidence.holds.add({ ...range, reason: 'x' }, w.op).then(
          () => 'ok',
          (e: { code?: string }) => e.code,
        );
      // Year 10000 is stored as "+010000-…", which sorts before every event's time: the hold would cover nothing.
      expect(await code({ from: '2026-01-01T00:00:00Z', to: '+010000-01-01T00:00:00Z' })).toBe('ERR_VALIDATION');
      for (const bad of ['1', 'March 1 2026', '2026-02-30T00:00:00Z', '2026-03-01T00:00:00', '2026-03-01'])
        expect(await code({ from: bad, to: '2026-12-01T00:00:00Z' }), bad).toBe('ERR_VALIDATION');
      for (const seq of [-1, 1.5, 1e20, Number.NaN])
        expect(await code({ fromSeq: 0, toSeq: seq }), String(seq)).toBe('ERR_VALIDATION');
      // An offset is an instant too: this window is the events' own 2026-03-01T00:00:00.000Z, inclusive.
      const hold = await w.evidence.holds.add(
        { from: '2026-03-01T01:00:00+01:00', to: '2026-03-01T01:00:00+01:00', reason: 'offset' },
        w.op,
      );
      expect(hold).toMatchObject({ from: '2026-03-01T00:00:00.000Z', to: '2026-03-01T00:00:00.000Z' });
      expect(await w.evidence.retention.prune(w.op)).toMatchObject({ toLeaf: 0, stoppedBy: 'hold' });
    } finally {
      await w.storage.close();
    }
  });

  it('is off by default, and the database refuses a delete above the horizon', async () => {
    const off = await aged(target, 0);
    try {
      await expect(off.evidence.retention.prune(off.op)).rejects.toMatchObject({ code: 'ERR_AUDIT_RETENTION_OFF' });
    } finally {
      await off.storage.close();
    }
    const w = await aged(target);
    try {
      await w.evidence.retention.prune(w.op);
      const survivor = await w.db
        .selectFrom('audit_leaves')
        .select('event_seq')
        .orderBy('leaf_index')
        .executeTakeFirstOrThrow();
      await expect(sql`delete from audit_events where seq = ${survivor.event_seq}`.execute(w.db)).rejects.toThrow(
        /append-only/,
      );
      await expect(sql`delete from audit_leaves where leaf_index = 8`.execute(w.db)).rejects.toThrow(/append-only/);
    } finally {
      await w.storage.close();
    }
  });

  it('a kept node the DBA appends above the horizon neither lets a prune past a rewrite nor goes unnamed', async () => {
    const w = await aged(target);
    try {
      // Events and leaves [0, 8) rewritten together, and (append only, no trigger needed) a kept node [0, 8)
      // carrying checkpoint 8's signed root: the prune must still see that the leaves no longer make that root.
      await dropTriggers(w, ['audit_events', 'audit_leaves']);
      await sql`update audit_events set reason = 'rewritten' where seq = 3`.execute(w.db);
      const row = await w.db.selectFrom('audit_events').selectAll().where('seq', '=', 3).executeTakeFirstOrThrow();
      await sql`update audit_leaves set leaf_hash = ${rowLeafHash(row)} where event_seq = 3`.execute(w.db);
      const roots = await checkpoints(w.db);
      await w.db
        .insertInto('audit_pruned_nodes')
        .values({ start_leaf: 0, size: 8, hash: roots.get(8)! })
        .execute();
      await expect(w.evidence.retention.prune(w.op)).rejects.toMatchObject({ code: 'ERR_AUDIT_TREE_BROKEN' });
      expect((await w.verifyNow()).findings.map((f) => f.kind)).toContain('frontier_forged');
    } finally {
      await w.storage.close();
    }
    const v = await aged(target);
    try {
      await v.evidence.retention.prune(v.op);
      const latest = (await v.evidence.sealer.checkpoint())!;
      // After a prune to 8, a row for [8, 12) (above the horizon) must not stand in for the surviving leaves.
      await v.db
        .insertInto('audit_pruned_nodes')
        .values({ start_leaf: 8, size: 4, hash: 'ab'.repeat(32) })
        .execute();
      expect(await survivorsProve(v, latest.treeSize, latest.rootHash)).toBe(4);
      expect((await v.verifyNow()).findings.map((f) => f.kind)).toContain('frontier_forged');
    } finally {
      await v.storage.close();
    }
  });

  it('verify names tampering after a prune: edit, delete beyond the horizon, forged frontier or prune', async () => {
    const w = await aged(target);
    try {
      await w.evidence.retention.prune(w.op);
      await w.evidence.sealer.checkpoint();
      await dropTriggers(w, ['audit_events', 'audit_leaves', 'audit_pruned_nodes', 'audit_prunes']);
      const first = async () => (await w.verifyNow()).first;
      const restore = async <T>(table: 'audit_events' | 'audit_pruned_nodes', change: () => Promise<T>) => {
        const before = await w.db.selectFrom(table).selectAll().execute();
        await change();
        const found = await first();
        await sql.raw(`delete from ${table}`).execute(w.db);
        await (w.storage.dialect === 'postgres' && table === 'audit_events'
          ? sql`insert into audit_events overriding system value
              select * from json_populate_recordset(null::audit_events, ${JSON.stringify(before)})`.execute(w.db)
          : w.db
              .insertInto(table)
              .values(before as never[])
              .execute());
        return found;
      };
      const seqAt = async (leaf: number) =>
        (
          await w.db
            .selectFrom('audit_leaves')
            .select('event_seq')
            .where('leaf_index', '=', leaf)
            .executeTakeFirstOrThrow()
        ).event_seq;

      const s9 = await seqAt(9);
      expect(
        await restore('audit_events', () => sql`update audit_events set reason = 'x' where seq = ${s9}`.execute(w.db)),
      ).toMatchObject({ kind: 'changed', leafIndex: 9, seq: s9 });
      const s8 = await seqAt(8);
      expect(
        await restore('audit_events', () => sql`delete from audit_events where seq = ${s8}`.execute(w.db)),
      ).toMatchObject({
        kind: 'removed',
        leafIndex: 8,
      });
      // The frontier of 8 is one node, [0, 8); the node [4, 5) is kept for checkpoint 5's consistency proofs.
      const forge = (start: number, size: number) => () =>
        sql`update audit_pruned_nodes set hash = ${'ab'.repeat(32)}
            where start_leaf = ${start} and size = ${size}`.execute(w.db);
      expect(await restore('audit_pruned_nodes', forge(0, 8))).toMatchObject({ kind: 'frontier_forged', treeSize: 8 });
      expect(await restore('audit_pruned_nodes', forge(4, 1))).toMatchObject({ kind: 'frontier_forged', treeSize: 5 });
      expect(await w.verifyNow()).toMatchObject({ ok: true });

      // A DBA records a prune of their own to get past the delete trigger: the signature gives it away.
      const roots = await checkpoints(w.db);
      const body = { horizon: 11, rootHash: roots.get(11)!, maxSeq: 11, events: 3, prunedAt: 'now', keyId: 'dba' };
      const signature = sign(null, Buffer.from(pruneBody(body)), generateKeyPairSync('ed25519').privateKey);
      await w.db
        .insertInto('audit_prunes')
        .values({
          horizon: 11,
          root_hash: body.rootHash,
          max_seq: 11,
          events: 3,
          pruned_at: 'now',
          key_id: 'dba',
          signature: signature.toString('base64url'),
        })
        .execute();
      const r = await w.verifyNow();
      expect(r.findings.map((f) => f.kind)).toContain('prune_forged');
      expect(r.findings.map((f) => f.kind)).toContain('frontier_forged');
    } finally {
      await w.storage.close();
    }
  });
});

// PostgreSQL only: on SQLite one process has one connection, so no hold can be placed while its prune runs.
describe.each(testDatabases().filter((t) => t.name === 'postgres'))(
  'audit retention beside a hold on $name',
  (target) => {
    it('a hold placed while a prune runs keeps its events', async () => {
      let during: (() => Promise<unknown>) | null = null;
      // The SIEM bound is asked after the pruner read the holds and before it deletes: place a hold right then.
      const w = await aged(target, 30, async () => {
        await during?.();
        return null;
      });
      try {
        during = () => w.evidence.holds.add({ fromSeq: 4, toSeq: 4, reason: 'placed mid-prune' }, w.op);
        const outcome = await w.evidence.retention.prune(w.op).then(
          (r) => r.toLeaf,
          (e: { code?: string }) => e.code ?? 'error',
        );
        during = null;
        const seqs = (await w.audit.list({ limit: 100 })).map((e) => e.seq);
        expect({ outcome, held: seqs.includes(4) }).toMatchObject({ outcome: 'ERR_CONFLICT', held: true });
        expect(await w.evidence.retention.prune(w.op)).toMatchObject({ toLeaf: 0, stoppedBy: 'hold' });
      } finally {
        await w.storage.close();
      }
    });
  },
);
