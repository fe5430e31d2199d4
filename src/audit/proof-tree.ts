import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { currentHorizon, keptNodes } from './horizon.js';
import { PrunedTree, rangeKey, type SubtreeSource, splitPoint } from './subtrees.js';

/**
 * Perfect subtrees of at least this many leaves are stored by the sealer (`audit_nodes`), so a proof reads
 * O(log n) nodes and fewer than NODE_MIN leaves per level instead of every leaf of the tree.
 */
export const NODE_MIN = 256;
/** PrunedTree hashes ranges up to this size straight from their leaves (src/audit/subtrees.ts). */
const LEAF_RUN = 64;

type Range = { start: number; size: number };
const isPerfect = (r: Range) => (r.size & (r.size - 1)) === 0 && r.start % r.size === 0;

/** The ranges a proof asks for: runs it once over a source that only records (its path never depends on hashes). */
function asked(plan: (src: SubtreeSource) => unknown): Range[] {
  const out: Range[] = [];
  plan({
    node(start, size) {
      out.push({ start, size });
      return Buffer.alloc(32);
    },
  });
  return out;
}

/**
 * Splits `r` the way PrunedTree will, into what must be read: stored-node candidates (perfect, ≥ NODE_MIN) and
 * leaf runs. Kept nodes of a pruned prefix need nothing; below the horizon there are no leaves to read.
 */
function decompose(r: Range, ctx: { horizon: number; kept: ReadonlyMap<string, Buffer>; useNodes: boolean }) {
  const nodes: Range[] = [];
  const leaves: Range[] = [];
  const visit = (x: Range) => {
    if (ctx.kept.has(rangeKey(x.start, x.size))) return;
    if (ctx.useNodes && x.size >= NODE_MIN && isPerfect(x)) nodes.push(x);
    else if (x.start >= ctx.horizon && x.size <= LEAF_RUN) leaves.push(x);
    else if (x.size > 1) {
      const k = splitPoint(x.size);
      visit({ start: x.start, size: k });
      visit({ start: x.start + k, size: x.size - k });
    }
  };
  visit(r);
  return { nodes, leaves };
}

async function storedNodes(db: Kysely<Database>, wanted: Range[]): Promise<Map<string, Buffer>> {
  const found = new Map<string, Buffer>();
  const starts = [...new Set(wanted.map((r) => r.start))];
  for (let i = 0; i < starts.length; i += 500) {
    const rows = await db
      .selectFrom('audit_nodes')
      .selectAll()
      .where('start_leaf', 'in', starts.slice(i, i + 500))
      .execute();
    for (const r of rows) found.set(rangeKey(Number(r.start_leaf), Number(r.size)), Buffer.from(r.hash, 'hex'));
  }
  return found;
}

async function leafRuns(db: Kysely<Database>, runs: Range[], horizon: number, size: number): Promise<Buffer[]> {
  // A sparse array indexed from the horizon: PrunedTree reads only the runs the decomposition named.
  const leaves: Buffer[] = new Array<Buffer>(Math.max(0, size - horizon));
  for (const run of runs) {
    const rows = await db
      .selectFrom('audit_leaves')
      .select(['leaf_index', 'leaf_hash'])
      .where('leaf_index', '>=', run.start)
      .where('leaf_index', '<', run.start + run.size)
      .execute();
    for (const r of rows) leaves[Number(r.leaf_index) - horizon] = Buffer.from(r.leaf_hash, 'hex');
  }
  return leaves;
}

/**
 * A source for the proofs `plan` computes over a tree of `size` leaves that reads only what they need: kept
 * nodes below a prune horizon, stored perfect subtrees, and short runs of leaves. A stored node that is missing
 * (deleted, or never written) is rebuilt from its leaves, so the answer is right either way, only slower.
 */
export async function proofTree(
  db: Kysely<Database>,
  size: number,
  plan: (src: SubtreeSource) => unknown,
): Promise<SubtreeSource> {
  const horizon = await currentHorizon(db);
  const kept = await keptNodes(db, horizon);
  const ranges = asked(plan);
  const first = ranges.map((r) => decompose(r, { horizon, kept, useNodes: true }));
  // Below the horizon only kept nodes count: a stored node there can no longer be checked against its leaves.
  const wanted = first.flatMap((d) => d.nodes).filter((r) => r.start + r.size <= size && r.start + r.size > horizon);
  const wantedKeys = new Set(wanted.map((r) => rangeKey(r.start, r.size)));
  // Only the subtrees asked for: another row at the same start (any size, perfect or not) is nobody's node.
  const stored = new Map([...(await storedNodes(db, wanted))].filter(([key]) => wantedKeys.has(key)));
  const missing = wanted.filter((r) => !stored.has(rangeKey(r.start, r.size)));
  const runs = [
    ...first.flatMap((d) => d.leaves),
    ...missing.flatMap((r) => decompose(r, { horizon, kept, useNodes: false }).leaves),
  ];
  const all = new Map([...stored, ...kept]);
  return new PrunedTree(horizon, all, await leafRuns(db, mergeRuns(runs), horizon, size));
}

/** Sorted, overlapping or touching runs merged, so each stretch of leaves is read once. */
function mergeRuns(runs: Range[]): Range[] {
  const sorted = [...runs].sort((a, b) => a.start - b.start);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out.at(-1);
    if (last && r.start <= last.start + last.size) last.size = Math.max(last.size, r.start + r.size - last.start);
    else out.push({ ...r });
  }
  return out;
}
