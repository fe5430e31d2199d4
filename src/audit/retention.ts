import { createPublicKey } from 'node:crypto';
import { type Kysely, type SqlBool, sql } from 'kysely';
import { CarapaceError, type Clock, type Logger } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { AuditAuditLog } from './audit-events.js';
import { type HeldRange, type HoldActor, holdStates } from './holds.js';
import { currentHorizon, keptNodes, misplacedKept, type PruneRecord, pruneBody, storedTree } from './horizon.js';
import { rowLeafHash } from './leaf.js';
import { takeSealLock } from './sealer.js';
import type { AuditSigner } from './signing-key.js';
import { consistencyFrom, frontierRanges, type PrunedTree, recording } from './subtrees.js';

/*
 * Which nodes a prune keeps, and why they are enough. Pruning removes the leaves [0, P) where P is the size of a
 * signed checkpoint. Every hash in an RFC 6962 proof is the root of a leaf range that is either a perfect, aligned
 * subtree or the right edge of the tree. For a leaf at or above P, and for a tree of any size n >= P:
 *  - a sibling that lies wholly below P is an aligned subtree whose parent contains P, i.e. one of the perfect
 *    subtrees of the tree of size P: its frontier (one per set bit of P);
 *  - a range that straddles P splits, the RFC 6962 way, into such frontier nodes and ranges above P.
 * So the frontier of P serves every root, every inclusion proof of a surviving leaf and every consistency proof
 * from a checkpoint at or above P. A consistency proof from an older checkpoint m < P also needs the siblings of
 * m's boundary below P; the pruner records exactly the nodes PROOF(m, D[P]) asks for (O(log P) per checkpoint),
 * and the same argument covers PROOF(m, D[n]) for n > P. Everything else below P is gone.
 */

/** What a prune removed (or, dry run, would remove). */
export interface PruneResult {
  dryRun: boolean;
  /** The horizon before and after: leaves [fromLeaf, toLeaf) were removed. */
  fromLeaf: number;
  toLeaf: number;
  events: number;
  /** Interior nodes newly kept in `audit_pruned_nodes`. */
  keptNodes: number;
  /** Why the horizon stopped where it did. */
  stoppedBy: 'retention' | 'hold' | 'checkpoint' | 'export';
}

/** Prunes the audit trail by the retention setting, never past a legal hold or a signed checkpoint. */
export interface AuditRetention {
  prune(options: { dryRun?: boolean } & HoldActor): Promise<PruneResult>;
  /** Prunes every `audit.retention.interval` seconds while retention is on. */
  start(): void;
  stop(): Promise<void>;
}

type Trx = Kysely<Database>;

/**
 * The first leaf at or above `horizon` that must stay: too young, held, or without its event. Holds come from
 * `holdStates` (judged by their signatures), not from the rows: an appended release row releases nothing.
 */
async function firstKept(
  trx: Trx,
  horizon: number,
  cutoff: string,
  holds: { ranges: HeldRange[]; all: boolean },
): Promise<{ leaf: number | null; held: boolean }> {
  if (holds.all) return { leaf: horizon, held: true };
  const covers = holds.ranges.map((h) =>
    'fromSeq' in h
      ? sql<SqlBool>`(e.seq between ${h.fromSeq} and ${h.toSeq})`
      : sql<SqlBool>`(e.occurred_at between ${h.from} and ${h.to})`,
  );
  const held = covers.length === 0 ? sql<SqlBool>`(1 = 0)` : sql<SqlBool>`(${sql.join(covers, sql` or `)})`;
  const row = await trx
    .selectFrom('audit_leaves as l')
    .leftJoin('audit_events as e', 'e.seq', 'l.event_seq')
    .select(['l.leaf_index', held.as('held')])
    .where('l.leaf_index', '>=', horizon)
    .where((w) => w.or([w('e.seq', 'is', null), w('e.occurred_at', '>', cutoff), held]))
    .orderBy('l.leaf_index')
    .limit(1)
    .executeTakeFirst();
  return { leaf: row ? Number(row.leaf_index) : null, held: row ? Boolean(row.held) : false };
}

/** The leaves [from, to) with their events, each checked against its sealed hash: pruning never hides a tamper. */
async function checkedPrefix(trx: Trx, from: number, to: number): Promise<{ seqs: number[]; maxSeq: number }> {
  const rows = await trx
    .selectFrom('audit_leaves as l')
    .innerJoin('audit_events as e', 'e.seq', 'l.event_seq')
    .selectAll('e')
    .select(['l.leaf_index', 'l.leaf_hash'])
    .where('l.leaf_index', '>=', from)
    .where('l.leaf_index', '<', to)
    .execute();
  const broken =
    rows.length !== to - from || rows.some(({ leaf_index: _, leaf_hash, ...e }) => rowLeafHash(e) !== leaf_hash);
  if (broken) throw new CarapaceError('ERR_AUDIT_TREE_BROKEN', 'the events to prune do not match their leaves');
  const seqs = rows.map((r) => Number(r.seq));
  return { seqs, maxSeq: Math.max(0, ...seqs) };
}

/** The nodes below `target` that later proofs need (see the comment at the top), not kept yet. */
function nodesToKeep(tree: PrunedTree, target: number, olderCheckpoints: number[], kept: Set<string>) {
  const needed = new Map<string, Buffer>();
  const src = recording(tree, target, needed);
  for (const r of frontierRanges(target)) src.node(r.start, r.size);
  for (const m of olderCheckpoints) consistencyFrom(src, m, target);
  return [...needed].filter(([key]) => !kept.has(key));
}

/** Creates the pruner. Retention `days` of 0 means off: on-demand prunes then answer `ERR_AUDIT_RETENTION_OFF`. */
export function createAuditRetention(deps: {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  audit: AuditAuditLog;
  signer: AuditSigner;
  settings: { days: number; interval: number };
  /** The first leaf a consumer outside the trail (the SIEM export) still needs; null: none. Never pruned. */
  keepFrom?: () => Promise<number | null>;
}): AuditRetention {
  const { db, settings } = deps;
  const keys = new Map([[deps.signer.keyId, createPublicKey(deps.signer.publicKeyPem)]]);
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> = Promise.resolve();

  async function pruneIn(trx: Trx, options: { dryRun?: boolean } & HoldActor): Promise<PruneResult> {
    const from = await currentHorizon(trx);
    const none = { dryRun: options.dryRun === true, fromLeaf: from, toLeaf: from, events: 0, keptNodes: 0 };
    if (!(await takeSealLock(trx))) return { ...none, stoppedBy: 'checkpoint' };
    const cutoff = new Date(deps.clock.now().getTime() - settings.days * 86_400_000).toISOString();
    const stop = await firstKept(trx, from, cutoff, await holdStates(trx, keys));
    const pending = (await deps.keepFrom?.()) ?? null;
    const exportBound = pending !== null && (stop.leaf === null || pending < stop.leaf);
    const limit = exportBound ? pending : (stop.leaf ?? Number.MAX_SAFE_INTEGER);
    const cp = await trx
      .selectFrom('audit_checkpoints')
      .selectAll()
      .where('tree_size', '>', from)
      .where('tree_size', '<=', limit)
      .orderBy('tree_size', 'desc')
      .executeTakeFirst();
    const stoppedBy = exportBound ? 'export' : stop.leaf === null ? 'checkpoint' : stop.held ? 'hold' : 'retention';
    if (!cp) return { ...none, stoppedBy };
    const target = Number(cp.tree_size);
    const tree = await storedTree(trx, target);
    if (tree.node(0, target).toString('hex') !== cp.root_hash)
      throw new CarapaceError('ERR_AUDIT_TREE_BROKEN', 'the stored tree does not match its checkpoint', { target });
    const { seqs, maxSeq } = await checkedPrefix(trx, from, target);
    const older = await trx
      .selectFrom('audit_checkpoints')
      .select('tree_size')
      .where('tree_size', '<', target)
      .execute();
    // A kept row above the horizon was never written by a prune: refuse rather than build on it.
    if ((await misplacedKept(trx, from)).length > 0)
      throw new CarapaceError('ERR_AUDIT_TREE_BROKEN', 'audit_pruned_nodes has rows above the prune horizon');
    const keptKeys = new Set((await keptNodes(trx, from)).keys());
    const nodes = nodesToKeep(
      tree,
      target,
      older.map((r) => Number(r.tree_size)).filter((m) => m > 0),
      keptKeys,
    );
    const result = { ...none, toLeaf: target, events: seqs.length, keptNodes: nodes.length, stoppedBy } as const;
    if (options.dryRun) return result;
    await record(trx, { horizon: target, rootHash: cp.root_hash, maxSeq, events: seqs.length }, nodes);
    // A hold committed since the holds were read: the delete trigger refuses its events, and the prune gives way.
    await remove(trx, from, target, seqs).catch((err: unknown) => {
      if (err instanceof Error && /is append-only/.test(err.message))
        throw new CarapaceError('ERR_CONFLICT', 'a legal hold was placed while pruning: nothing was pruned, retry');
      throw err;
    });
    await deps.audit.append(trx, {
      type: 'audit.retention.pruned',
      actor: options.actor,
      object: { type: 'audit_tree', id: String(target) },
      action: 'audit:prune',
      decision: 'info',
      reason: `retention of ${settings.days} days`,
      context: options.context ?? null,
      details: {
        fromLeaf: from,
        toLeaf: target,
        events: seqs.length,
        maxSeq,
        rootHash: cp.root_hash,
        keptNodes: nodes.length,
      },
    });
    return result;
  }

  /** The signed prune row first: the delete triggers let through only rows below a recorded horizon. */
  async function record(trx: Trx, facts: Omit<PruneRecord, 'prunedAt' | 'keyId'>, nodes: [string, Buffer][]) {
    const p: PruneRecord = { ...facts, prunedAt: deps.clock.now().toISOString(), keyId: deps.signer.keyId };
    const signature = await deps.signer.sign(Buffer.from(pruneBody(p), 'utf8'));
    await trx
      .insertInto('audit_prunes')
      .values({
        horizon: p.horizon,
        root_hash: p.rootHash,
        max_seq: p.maxSeq,
        events: p.events,
        pruned_at: p.prunedAt,
        key_id: p.keyId,
        signature,
      })
      .execute();
    for (let i = 0; i < nodes.length; i += 500) {
      const values = nodes.slice(i, i + 500).map(([key, hash]) => {
        const [start, size] = key.split(':').map(Number) as [number, number];
        return { start_leaf: start, size, hash: hash.toString('hex') };
      });
      await trx.insertInto('audit_pruned_nodes').values(values).execute();
    }
  }

  /** Events before leaves: the events' trigger finds each one's leaf below the horizon. */
  async function remove(trx: Trx, from: number, to: number, seqs: number[]) {
    for (let i = 0; i < seqs.length; i += 500) {
      const chunk = seqs.slice(i, i + 500);
      await trx.deleteFrom('audit_events').where('seq', 'in', chunk).execute();
      // After their events: the trigger lets an index row go only once its event is gone.
      await trx.deleteFrom('audit_pivots').where('event_seq', 'in', chunk).execute();
    }
    await trx.deleteFrom('audit_leaves').where('leaf_index', '>=', from).where('leaf_index', '<', to).execute();
  }

  const prune: AuditRetention['prune'] = (options) => {
    if (settings.days === 0)
      return Promise.reject(new CarapaceError('ERR_AUDIT_RETENTION_OFF', 'audit retention is off'));
    const run = running.then(() => db.transaction().execute((trx) => pruneIn(trx, options)));
    running = run.catch(() => undefined);
    return run;
  };

  return {
    prune,
    start() {
      if (timer || settings.days === 0) return;
      timer = setInterval(() => {
        prune({ actor: { type: 'system', id: 'audit-retention' } }).catch((err: unknown) =>
          deps.log.error({ err }, 'audit pruning failed'),
        );
      }, settings.interval * 1000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}
