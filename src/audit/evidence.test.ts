import { createHash, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import canonicalize from 'canonicalize';
import { Client as PgClient } from 'pg';
import { type Kysely, type Selectable, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { verifyConsistency, verifyInclusion } from '../../test/merkle-verifier.js';
import { createLogger, FixedClock } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { memoryAuditKeys, testDatabases } from '../testing/index.js';
import {
  type AuditEventRow,
  checkpointBody,
  createAuditEvidence,
  createAuditLog,
  readCheckpointFile,
  type StoredAuditEvent,
  trustedAuditKeys,
  verifyAuditTrail,
} from './index.js';
import { loadAuditSigner } from './signing-key.js';

type Row = Selectable<AuditEventRow>;

const unhex = (h: string) => Buffer.from(h, 'hex');
// Independent of the code under test: canonicalize (RFC 8785) and SHA-256(0x00 || bytes).
const leafOf = (e: StoredAuditEvent) =>
  createHash('sha256')
    .update(Buffer.of(0))
    .update(canonicalize(e) ?? '')
    .digest();

async function world(target: ReturnType<typeof testDatabases>[number]) {
  const storage = await target.open();
  const clock = new FixedClock(new Date('2026-03-01T00:00:00Z'));
  const keyDir = join(storage.dataDir, 'pki');
  const checkpointFile = join(storage.dataDir, 'audit', 'checkpoints.jsonl');
  const evidence = await createAuditEvidence({
    db: storage.db,
    clock,
    log: createLogger('silent'),
    keys: memoryAuditKeys(),
    keyDir,
    settings: { checkpointInterval: 60, sealSettle: 2, checkpointFile },
  });
  const audit = createAuditLog({ db: storage.db, clock });
  const append = (i: number, db: Kysely<Database> = storage.db) =>
    audit.append(db, {
      type: 'pki.test.event',
      actor: { type: 'system' },
      object: { type: 'device', id: `dev-${i}` },
      action: 'test',
      decision: 'info',
      details: { i },
    });
  const verifyNow = async (withFile = true) =>
    verifyAuditTrail({
      db: storage.db,
      keys: trustedAuditKeys(keyDir),
      exported: withFile ? readCheckpointFile(checkpointFile) : [],
    });
  return { storage, clock, evidence, audit, append, keyDir, checkpointFile, verifyNow };
}
type World = Awaited<ReturnType<typeof world>>;

/** The DBA's first move: switch off the append-only triggers of the audit tables. */
async function dropTriggers(w: World): Promise<void> {
  const pg = w.storage.dialect === 'postgres';
  for (const table of ['audit_events', 'audit_leaves', 'audit_checkpoints']) {
    const names = pg ? [`${table}_no_change`] : [`${table}_no_update`, `${table}_no_delete`];
    for (const name of names)
      await sql.raw(pg ? `drop trigger ${name} on ${table}` : `drop trigger ${name}`).execute(w.storage.db);
  }
}

async function sealed(n: number, target: ReturnType<typeof testDatabases>[number]): Promise<World> {
  const w = await world(target);
  for (let i = 1; i <= n; i++) await w.append(i);
  await w.evidence.sealer.checkpoint();
  return w;
}

describe.each(testDatabases())('audit evidence on $name', (target) => {
  it('stores perfect subtrees for proofs, falls back to the leaves without one, and names a forged one', async () => {
    const w = await world(target);
    try {
      const db = w.storage.db;
      await db.transaction().execute(async (trx) => {
        for (let i = 1; i <= 300; i++) await w.append(i, trx);
      });
      const small = (await w.evidence.sealer.checkpoint())!;
      await db.transaction().execute(async (trx) => {
        for (let i = 301; i <= 700; i++) await w.append(i, trx);
      });
      const big = (await w.evidence.sealer.checkpoint())!;
      const nodes = await db.selectFrom('audit_nodes').selectAll().orderBy('size').orderBy('start_leaf').execute();
      expect(nodes.map((n) => `${n.start_leaf}:${n.size}`)).toEqual(['0:256', '256:256', '0:512']);
      const events = (await w.audit.list({ limit: 1000 })).sort((a, b) => a.seq - b.seq);
      const proves = async (i: number) => {
        const p = await w.evidence.proofs.inclusion(events[i]!.id);
        return verifyInclusion(leafOf(events[i]!), p.leafIndex, 700, p.auditPath.map(unhex), unhex(big.rootHash));
      };
      for (const i of [0, 255, 256, 511, 512, 699]) expect(await proves(i)).toBe(true);
      const c = await w.evidence.proofs.consistency(300, 700);
      expect(verifyConsistency(300, 700, unhex(small.rootHash), unhex(big.rootHash), c.proof.map(unhex))).toBe(true);
      const many = await w.evidence.proofs.inclusionOfEach(events.slice(0, 40).map((e) => e.id));
      expect([...many.values()].every((p) => p !== null && p.auditPath.length === 10)).toBe(true);

      // A DBA deletes one node and rewrites another: proofs stay right without it, verify names the forged one.
      await sql
        .raw(pg(w) ? 'drop trigger audit_nodes_no_change on audit_nodes' : 'drop trigger audit_nodes_no_delete')
        .execute(db);
      if (!pg(w)) await sql.raw('drop trigger audit_nodes_no_update').execute(db);
      await db.deleteFrom('audit_nodes').where('start_leaf', '=', 256).execute();
      expect(await proves(10)).toBe(true);
      await db
        .updateTable('audit_nodes')
        .set({ hash: '00'.repeat(32) })
        .where('size', '=', 512)
        .execute();
      expect(await proves(600)).toBe(false);
      const report = await w.verifyNow();
      expect(report.ok).toBe(false);
      expect(report.findings.map((f) => f.kind)).toEqual(['node_forged']);
      // Rows the sealer never writes, appended (no trigger needed): not perfect, and past the stored tree (the
      // sealer would stop when it reached [1024, 2048)). Verify names each; proofs do not take them.
      await db
        .insertInto('audit_nodes')
        .values([
          { start_leaf: 512, size: 188, hash: '00'.repeat(32) },
          { start_leaf: 1024, size: 1024, hash: '00'.repeat(32) },
        ])
        .execute();
      const forged = (await w.verifyNow()).findings.filter((f) => f.kind === 'node_forged').map((f) => f.detail);
      expect(forged.join()).toMatch(/512:188.*1024:1024|1024:1024.*512:188/);
      expect(await proves(10)).toBe(true);
    } finally {
      await w.storage.close();
    }
  });

  it('seals events as RFC 6962 leaves, signs checkpoints, and proves inclusion and consistency', async () => {
    const w = await world(target);
    try {
      for (let i = 1; i <= 5; i++) await w.append(i);
      const first = await w.evidence.sealer.checkpoint();
      expect(first?.treeSize).toBe(5);
      for (let i = 6; i <= 13; i++) await w.append(i);
      const second = await w.evidence.sealer.checkpoint();
      expect(second?.treeSize).toBe(13);

      // The signature verifies with the exported public key file and Node's own Ed25519, over canonical JSON.
      const pub = createPublicKey(readFileSync(join(w.keyDir, 'audit-signing.pub.pem'), 'utf8'));
      const { signature, ...body } = second!;
      const signed = canonicalize({ origin: 'carapace-audit-checkpoint/v1', ...body }) ?? '';
      expect(checkpointBody(body)).toBe(signed);
      expect(verify(null, Buffer.from(signed), pub, Buffer.from(signature, 'base64url'))).toBe(true);

      // Every event as the admin API lists it: its canonical form hashes to a leaf the checkpoint includes.
      const events = (await w.audit.list({ limit: 100 })).reverse();
      for (const e of events) {
        const proof = await w.evidence.proofs.inclusion(e.id);
        expect(proof.leafHash).toBe(leafOf(e).toString('hex'));
        expect(
          verifyInclusion(leafOf(e), proof.leafIndex, 13, proof.auditPath.map(unhex), unhex(second!.rootHash)),
        ).toBe(true);
        expect(
          verifyInclusion(leafOf(e), proof.leafIndex, 13, proof.auditPath.map(unhex), unhex(first!.rootHash)),
        ).toBe(false);
      }
      const c = await w.evidence.proofs.consistency(5, 13);
      expect(verifyConsistency(5, 13, unhex(first!.rootHash), unhex(second!.rootHash), c.proof.map(unhex))).toBe(true);

      // Both checkpoints were exported, one JSON line each; the database and the file verify clean.
      expect(readCheckpointFile(w.checkpointFile).map((l) => ('checkpoint' in l ? l.checkpoint.treeSize : 0))).toEqual([
        5, 13,
      ]);
      const report = await w.verifyNow();
      expect(report).toMatchObject({ ok: true, events: 13, leaves: 13, checkpointsVerified: 2, findings: [] });
    } finally {
      await w.storage.close();
    }
  });

  it('seals only settled events on the periodic run, and everything on demand', async () => {
    const w = await world(target);
    try {
      await w.append(1);
      w.clock.advance(5000);
      await w.append(2);
      expect(await w.evidence.sealer.seal()).toBe(1);
      expect(await w.evidence.sealer.seal({ settle: false })).toBe(1);
      expect((await w.evidence.sealer.checkpoint())?.treeSize).toBe(2);
      // Nothing new: no new checkpoint, the latest is returned.
      expect((await w.evidence.sealer.checkpoint())?.treeSize).toBe(2);
      expect(readCheckpointFile(w.checkpointFile)).toHaveLength(1);
    } finally {
      await w.storage.close();
    }
  });

  it('tails sealed events in tree order with a cursor that never skips', async () => {
    const w = await sealed(5, target);
    try {
      const seen: number[] = [];
      let cursor = -1;
      for (
        let page = await w.evidence.tail(cursor, 2);
        page.events.length > 0;
        page = await w.evidence.tail(cursor, 2)
      ) {
        seen.push(...page.events.map((e) => e.event.details.i as number));
        expect(page.events.map((e) => e.leafIndex)).toEqual(page.events.map((_, i) => cursor + 1 + i));
        cursor = page.cursor;
      }
      expect(seen).toEqual([1, 2, 3, 4, 5]);
      expect(await w.evidence.tail(cursor, 2)).toEqual({ events: [], cursor: 4 });
    } finally {
      await w.storage.close();
    }
  });

  it('never signs on top of a tree that no longer matches its last checkpoint', async () => {
    const w = await sealed(3, target);
    try {
      await dropTriggers(w);
      await sql`update audit_leaves set leaf_hash = ${'00'.repeat(32)} where leaf_index = 1`.execute(w.storage.db);
      await w.append(4);
      // A restarted process rebuilds its tree from the stored leaves and finds the rewrite before signing.
      const restarted = await createAuditEvidence({
        db: w.storage.db,
        clock: w.clock,
        log: createLogger('silent'),
        keys: memoryAuditKeys(),
        keyDir: join(w.storage.dataDir, 'other-keys'),
        settings: { checkpointInterval: 60, sealSettle: 0, checkpointFile: null },
      });
      await expect(restarted.sealer.checkpoint()).rejects.toThrow(/no longer matches its last checkpoint/);
      expect((await restarted.sealer.latest())?.treeSize).toBe(3);
    } finally {
      await w.storage.close();
    }
  });

  it('verify names an event changed behind the trigger', async () => {
    const w = await sealed(6, target);
    try {
      await dropTriggers(w);
      await sql`update audit_events set reason = 'nothing happened' where seq = 4`.execute(w.storage.db);
      const r = await w.verifyNow();
      expect(r.ok).toBe(false);
      expect(r.first).toMatchObject({ kind: 'changed', seq: 4, leafIndex: 3 });
    } finally {
      await w.storage.close();
    }
  });

  it('verify names a removed event', async () => {
    const w = await sealed(6, target);
    try {
      await dropTriggers(w);
      await sql`delete from audit_events where seq = 2`.execute(w.storage.db);
      expect((await w.verifyNow()).first).toMatchObject({ kind: 'removed', seq: 2, leafIndex: 1 });
    } finally {
      await w.storage.close();
    }
  });

  it('verify names two events swapped in order', async () => {
    const w = await sealed(6, target);
    try {
      await dropTriggers(w);
      const rows = await w.storage.db.selectFrom('audit_events').selectAll().where('seq', 'in', [3, 4]).execute();
      const [{ seq: _a, ...a }, { seq: _b, ...b }] = rows.sort((x, y) => x.seq - y.seq) as [Row, Row];
      await w.storage.db
        .updateTable('audit_events')
        .set({ ...b, id: 'swap' })
        .where('seq', '=', 3)
        .execute();
      await w.storage.db.updateTable('audit_events').set(a).where('seq', '=', 4).execute();
      await w.storage.db.updateTable('audit_events').set({ id: b.id }).where('seq', '=', 3).execute();
      expect((await w.verifyNow()).first).toMatchObject({ kind: 'reordered', seq: 3, eventId: a.id });
    } finally {
      await w.storage.close();
    }
  });

  it('verify names an event inserted among sealed ones', async () => {
    const w = await world(target);
    try {
      for (let i = 1; i <= 3; i++) await w.append(i);
      // A gap in seq, as a rolled-back append leaves on PostgreSQL.
      if (w.storage.dialect === 'postgres')
        await w.storage.db
          .transaction()
          .execute(async (trx) => {
            await w.append(99, trx);
            throw new Error('roll back');
          })
          .catch(() => undefined);
      else await sql`update sqlite_sequence set seq = seq + 1 where name = 'audit_events'`.execute(w.storage.db);
      for (let i = 5; i <= 6; i++) await w.append(i);
      await w.evidence.sealer.checkpoint();
      const row = await w.storage.db
        .selectFrom('audit_events')
        .selectAll()
        .where('seq', '=', 3)
        .executeTakeFirstOrThrow();
      const forged = { ...row, seq: 4, id: '00000000-0000-4000-8000-000000000004', reason: 'forged' };
      await (w.storage.dialect === 'postgres'
        ? sql`insert into audit_events overriding system value select * from json_populate_record(null::audit_events, ${JSON.stringify(forged)})`.execute(
            w.storage.db,
          )
        : w.storage.db.insertInto('audit_events').values(forged).execute());
      expect((await w.verifyNow()).first).toMatchObject({ kind: 'inserted', seq: 4, eventId: forged.id });
    } finally {
      await w.storage.close();
    }
  });

  it('catches a forged checkpoint, and a DBA who rewrites events, leaves and checkpoints, by the exported copy', async () => {
    const w = await sealed(6, target);
    try {
      await dropTriggers(w);
      // Rewrite event 2 and its leaf consistently, then replace the checkpoints with one signed by the DBA's key.
      await sql`update audit_events set decision = 'allow' where seq = 2`.execute(w.storage.db);
      const row = await w.storage.db
        .selectFrom('audit_events')
        .selectAll()
        .where('seq', '=', 2)
        .executeTakeFirstOrThrow();
      const listed = (await w.audit.list({ limit: 10 })).find((e) => e.seq === row.seq)!;
      await w.storage.db
        .updateTable('audit_leaves')
        .set({ leaf_hash: leafOf(listed).toString('hex') })
        .where('event_seq', '=', 2)
        .execute();
      const inDb = await verifyAuditTrail({ db: w.storage.db, keys: trustedAuditKeys(w.keyDir) });
      expect(inDb.first).toMatchObject({ kind: 'leaves_rewritten', leafIndex: 0, treeSize: 6 });

      await sql`delete from audit_checkpoints`.execute(w.storage.db);
      const dba = generateKeyPairSync('ed25519');
      const body = { treeSize: 6, rootHash: 'ab'.repeat(32), signedAt: '2026-03-01T00:00:00.000Z', keyId: 'dba' };
      const signature = sign(null, Buffer.from(checkpointBody(body)), dba.privateKey).toString('base64url');
      await w.storage.db
        .insertInto('audit_checkpoints')
        .values({ tree_size: 6, root_hash: body.rootHash, signed_at: body.signedAt, key_id: 'dba', signature })
        .execute();
      const dbOnly = await w.verifyNow(false);
      expect(dbOnly.findings.map((f) => f.kind)).toEqual(['checkpoint_forged']);
      const withFile = await w.verifyNow();
      expect(withFile.ok).toBe(false);
      expect(withFile.findings.map((f) => f.kind).sort()).toEqual([
        'checkpoint_forged',
        'checkpoint_mismatch',
        'leaves_rewritten',
      ]);
      expect(withFile.first).toMatchObject({ kind: 'leaves_rewritten', treeSize: 6 });
    } finally {
      await w.storage.close();
    }
  });
});

describe.each(testDatabases().filter((t) => t.name === 'postgres'))('audit sealing on $name', (target) => {
  it('seals an event whose transaction commits after a later one, without losing it', async () => {
    const w = await world(target);
    try {
      await w.append(1);
      let release: () => void = () => undefined;
      const held = new Promise<void>((resolve) => (release = resolve));
      let inserted: () => void = () => undefined;
      const insertedYet = new Promise<void>((resolve) => (inserted = resolve));
      const slow = w.storage.db.transaction().execute(async (trx) => {
        await w.append(2, trx);
        inserted();
        await held;
      });
      await insertedYet;
      await w.append(3);
      // Concurrent appends are plain inserts: none waits for the sealer or for each other.
      await Promise.all([4, 5, 6].map((i) => w.append(i)));
      const early = await w.evidence.sealer.checkpoint();
      expect(early?.treeSize).toBe(5);
      const before = await w.evidence.tail(-1, 100);
      expect(before.events.map((e) => e.event.seq)).toEqual([1, 3, 4, 5, 6]);
      release();
      await slow;
      const later = await w.evidence.sealer.checkpoint();
      expect(later?.treeSize).toBe(6);
      // A tail reader that had read up to the early checkpoint still gets the late event: nothing is skipped.
      const after = await w.evidence.tail(before.cursor, 100);
      expect(after.events.map((e) => e.event.seq)).toEqual([2]);
      const leaves = await w.storage.db.selectFrom('audit_leaves').select('event_seq').orderBy('leaf_index').execute();
      expect(leaves.at(-1)?.event_seq).toBe(2);
      expect(await w.verifyNow()).toMatchObject({ ok: true, leaves: 6, unsealed: 0 });
    } finally {
      await w.storage.close();
    }
  });
});

describe('the audit signing key', () => {
  it('keeps its public half beside the private one and refuses a public file that does not match', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'audit-key-'));
    try {
      const keys = memoryAuditKeys();
      const first = await loadAuditSigner({ keys, keyDir: dir });
      expect((await loadAuditSigner({ keys, keyDir: dir })).keyId).toBe(first.keyId);
      expect([...trustedAuditKeys(dir).keys()]).toEqual([first.keyId]);
      const publicFile = join(dir, 'audit-signing.pub.pem');
      const original = readFileSync(publicFile, 'utf8');
      writeFileSync(publicFile, generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }));
      await expect(loadAuditSigner({ keys, keyDir: dir })).rejects.toThrow(/not the public half/);
      writeFileSync(publicFile, original);
      // A lost private key: a new key is made, the old public file is kept so old checkpoints still verify.
      const second = await loadAuditSigner({ keys: memoryAuditKeys(), keyDir: dir });
      expect(second.keyId).not.toBe(first.keyId);
      expect([...trustedAuditKeys(dir).keys()].sort()).toEqual([first.keyId, second.keyId].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const pg = (w: { storage: { dialect: string } }) => w.storage.dialect === 'postgres';

/** Another process holds SQLite's write lock for a moment, and has written before it lets go. */
function holdWriteLock(file: string, ms: number): Promise<{ done: Promise<void> }> {
  const script = `const db = require('better-sqlite3')(process.argv[1]);
    db.exec('BEGIN IMMEDIATE'); db.exec('CREATE TABLE IF NOT EXISTS lock_probe (x)');
    db.exec('INSERT INTO lock_probe VALUES (1)'); process.stdout.write('locked\\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${ms}); db.exec('COMMIT'); db.close();`;
  const child = spawn(process.execPath, ['-e', script, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve({ done }));
    child.once('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
}

describe('audit sealer beside another SQLite writer', () => {
  it('waits for the write lock instead of failing when another process wrote meanwhile', async () => {
    const w = await world(testDatabases()[0]!);
    try {
      for (const i of [1, 2, 3]) await w.append(i);
      const holder = await holdWriteLock(join(w.storage.dataDir, 'carapace.sqlite'), 700);
      // Without taking the write lock first, the sealer's read-then-write fails at once with SQLITE_BUSY.
      const checkpoint = await w.evidence.sealer.checkpoint();
      await holder.done;
      expect(checkpoint?.treeSize).toBe(3);
    } finally {
      await w.storage.close();
    }
  });
});

// PostgreSQL only: there the sealer's lock is an advisory lock another process can hold.
describe.each(testDatabases().filter((t) => t.name === 'postgres'))(
  'audit sealer beside a sealing server on $name',
  (target) => {
    it('an on-demand checkpoint waits for the sealer lock another process holds, then signs the new head', async () => {
      const w = await world(target);
      const holder = new PgClient({ connectionString: process.env.DATABASE_URL });
      try {
        for (const i of [1, 2]) await w.append(i);
        await holder.connect();
        await holder.query(`set search_path = "${String((w.storage as { schema: string | null }).schema)}"`);
        await holder.query('begin');
        await holder.query('select pg_advisory_xact_lock(7411, hashtext(current_schema()))');
        const pending = w.evidence.sealer.checkpoint();
        await new Promise((r) => setTimeout(r, 500));
        await holder.query('commit');
        // Without waiting, it would have returned the older head (none here) instead of signing both events.
        expect((await pending)?.treeSize).toBe(2);
      } finally {
        await holder.end();
        await w.storage.close();
      }
    });
  },
);
