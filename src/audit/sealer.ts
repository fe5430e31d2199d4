import { type Kysely, sql } from 'kysely';
import type { Clock, Logger } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { dialectOf } from '../storage/index.js';
import { appendCheckpointFile, type Checkpoint, checkpointBody, checkpointFromRow } from './checkpoint.js';
import { currentHorizon, frontierAt, keptNodes } from './horizon.js';
import { rowLeafHash } from './leaf.js';
import { NODE_MIN } from './proof-tree.js';
import { MerkleFrontier } from './merkle.js';
import type { AuditSigner } from './signing-key.js';

/** Events integrated per transaction: bounds how long the sealer holds its lock. */
const BATCH = 2000;
/**
 * How far below the highest sealed seq the sealer still looks for unsealed events. On PostgreSQL a seq is taken
 * at insert and becomes visible at commit, so a long transaction's event can appear after later seqs were sealed;
 * it is then sealed late, as a later leaf. One older than this window stays unsealed and `verify` reports it.
 */
export const LATE_COMMIT_WINDOW = 10_000;

/** Integrates committed events into the tree and signs checkpoints; one sealer at a time across the cluster. */
export interface AuditSealer {
  /** Seals what has settled (or everything, `settle: false`); returns the number of new leaves. */
  seal(options?: { settle?: boolean }): Promise<number>;
  /** Seals everything committed and signs a checkpoint if the tree grew; returns the latest checkpoint. */
  checkpoint(): Promise<Checkpoint | null>;
  /** The latest stored checkpoint. */
  latest(): Promise<Checkpoint | null>;
  /** Seals and signs every `intervalSeconds` until stopped. */
  start(intervalSeconds: number): void;
  stop(): Promise<void>;
}

type Trx = Kysely<Database>;

/**
 * One sealer at a time: a transaction-scoped advisory lock per schema on PostgreSQL; SQLite has one writer. The
 * periodic sealer skips a round when another process holds it; an on-demand run (`wait`) waits for it (up to
 * 30 s), so `carapace audit checkpoint` beside a sealing server signs what it was asked to, not an older head.
 */
export async function takeSealLock(trx: Trx, wait = false): Promise<boolean> {
  if (dialectOf(trx) !== 'postgres') return true;
  if (wait) {
    await sql`set local lock_timeout = '30s'`.execute(trx);
    await sql`select pg_advisory_xact_lock(7411, hashtext(current_schema()))`.execute(trx);
    return true;
  }
  const r = await sql<{
    locked: boolean;
  }>`select pg_try_advisory_xact_lock(7411, hashtext(current_schema())) as locked`.execute(trx);
  return r.rows[0]?.locked === true;
}

/** The tree's frontier at the prune horizon, rebuilt from the kept nodes. */
async function resumedAt(trx: Trx, horizon: number): Promise<MerkleFrontier> {
  const f = frontierAt(horizon, await keptNodes(trx, horizon));
  if (!f) throw new Error('the kept frontier of the pruned audit tree is missing: run `carapace audit verify`');
  return f;
}

/** Creates the sealer. `checkpointFile` receives every checkpoint as a JSON line (null: no export). */
export function createAuditSealer(deps: {
  db: Kysely<Database>;
  clock: Clock;
  signer: AuditSigner;
  settleSeconds: number;
  checkpointFile: string | null;
  log: Logger;
}): AuditSealer {
  const { db } = deps;
  let frontier = new MerkleFrontier();
  let queue: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | null = null;
  // One run at a time in this process; the database lock covers the other processes.
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  const latestIn = async (trx: Trx) => {
    const row = await trx.selectFrom('audit_checkpoints').selectAll().orderBy('tree_size', 'desc').executeTakeFirst();
    return row ? checkpointFromRow(row) : null;
  };

  /** Brings the in-memory frontier up to the stored leaves (another process may have sealed) and checks it. */
  async function synced(trx: Trx): Promise<MerkleFrontier> {
    // max over the primary key, not count(*): an index lookup, however large the tree (leaves have no gaps).
    const top = await trx
      .selectFrom('audit_leaves')
      .select((e) => e.fn.max('leaf_index').as('i'))
      .executeTakeFirst();
    // Below the horizon the leaves were pruned: the tree resumes from the kept frontier there.
    const horizon = await currentHorizon(trx);
    const size = top?.i === null || top?.i === undefined ? horizon : Math.max(Number(top.i) + 1, horizon);
    const next = frontier.size <= size && frontier.size >= horizon ? frontier.clone() : await resumedAt(trx, horizon);
    const last = await latestIn(trx);
    while (next.size < size) {
      const rows = await trx
        .selectFrom('audit_leaves')
        .select(['leaf_index', 'leaf_hash'])
        .where('leaf_index', '>=', next.size)
        .orderBy('leaf_index')
        .limit(10_000)
        .execute();
      if (rows.length === 0 || rows[0]!.leaf_index !== next.size) throw new Error('audit_leaves has a gap');
      for (const r of rows) {
        next.push(Buffer.from(r.leaf_hash, 'hex'));
        // Never sign on top of a tree that no longer matches its own last signed head.
        if (last && next.size === last.treeSize && next.root().toString('hex') !== last.rootHash)
          throw new Error('the audit tree no longer matches its last checkpoint: run `carapace audit verify`');
      }
    }
    return next;
  }

  /** Integrates one batch inside `trx`; returns the extended frontier, kept only once `trx` commits. */
  async function sealBatch(trx: Trx, cutoff: string | null): Promise<{ added: number; tree: MerkleFrontier | null }> {
    // An on-demand run (no cutoff) waits for the lock; the periodic one skips a round.
    if (!(await takeSealLock(trx, cutoff === null))) return { added: 0, tree: null };
    const tree = await synced(trx);
    const top = await trx
      .selectFrom('audit_leaves')
      .select((e) => e.fn.max('event_seq').as('s'))
      .executeTakeFirst();
    let q = trx
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '>', Number(top?.s ?? 0) - LATE_COMMIT_WINDOW)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('audit_leaves').select('leaf_index').whereRef('audit_leaves.event_seq', '=', 'audit_events.seq'),
          ),
        ),
      );
    if (cutoff) q = q.where('occurred_at', '<=', cutoff);
    const events = await q.orderBy('seq').limit(BATCH).execute();
    if (events.length === 0) return { added: 0, tree };
    const nodes: { start_leaf: number; size: number; hash: string }[] = [];
    const keep = (start: number, size: number, hash: Buffer) => {
      if (size >= NODE_MIN) nodes.push({ start_leaf: start, size, hash: hash.toString('hex') });
    };
    const leaves = events.map((e) => {
      const hash = rowLeafHash(e);
      if (hash === null) throw new Error(`audit event ${e.seq} does not parse`);
      tree.push(Buffer.from(hash, 'hex'), keep);
      return { leaf_index: tree.size - 1, event_seq: e.seq, leaf_hash: hash };
    });
    await trx.insertInto('audit_leaves').values(leaves).execute();
    // The perfect subtrees these leaves completed, in the same transaction: proofs read them, not every leaf.
    for (let i = 0; i < nodes.length; i += 500)
      await trx
        .insertInto('audit_nodes')
        .values(nodes.slice(i, i + 500))
        .execute();
    return { added: leaves.length, tree };
  }

  async function sealAll(settle: boolean): Promise<number> {
    const cutoff = settle ? new Date(deps.clock.now().getTime() - deps.settleSeconds * 1000).toISOString() : null;
    let total = 0;
    for (;;) {
      const { added, tree } = await db.transaction().execute((trx) => sealBatch(trx, cutoff));
      if (tree) frontier = tree;
      total += added;
      if (added < BATCH) return total;
    }
  }

  async function sign(wait: boolean): Promise<Checkpoint | null> {
    const made = await db.transaction().execute(async (trx) => {
      if (!(await takeSealLock(trx, wait))) return null;
      const tree = await synced(trx);
      frontier = tree;
      const last = await latestIn(trx);
      if (tree.size === 0 || last?.treeSize === tree.size) return null;
      const unsigned = {
        treeSize: tree.size,
        rootHash: tree.root().toString('hex'),
        signedAt: deps.clock.now().toISOString(),
        keyId: deps.signer.keyId,
      };
      const c = { ...unsigned, signature: await deps.signer.sign(Buffer.from(checkpointBody(unsigned), 'utf8')) };
      await trx
        .insertInto('audit_checkpoints')
        .values({
          tree_size: c.treeSize,
          root_hash: c.rootHash,
          signed_at: c.signedAt,
          key_id: c.keyId,
          signature: c.signature,
        })
        .execute();
      return c;
    });
    if (made && deps.checkpointFile) {
      try {
        appendCheckpointFile(deps.checkpointFile, made);
      } catch (err) {
        deps.log.error({ err, file: deps.checkpointFile }, 'could not export an audit checkpoint');
      }
    }
    return made;
  }

  const latest = () => latestIn(db);
  const run = (settle: boolean) =>
    exclusive(async () => {
      await sealAll(settle);
      return (await sign(!settle)) ?? (await latest());
    });

  return {
    seal: (options = {}) => exclusive(() => sealAll(options.settle ?? true)),
    checkpoint: () => run(false),
    latest,
    start(intervalSeconds) {
      if (timer) return;
      timer = setInterval(() => {
        run(true).catch((err: unknown) => deps.log.error({ err }, 'audit sealing failed'));
      }, intervalSeconds * 1000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await queue;
    },
  };
}
