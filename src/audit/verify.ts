import type { KeyObject } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../storage/index.js';
import { type Checkpoint, checkpointFromRow, checkpointSignatureValid, type ExportedLine } from './checkpoint.js';
import { rowLeafHash } from './leaf.js';
import type { MerkleFrontier } from './merkle.js';
import type { VerifyFinding } from './verify-finding.js';
import { checkHorizon } from './verify-horizon.js';
import { holdStates } from './holds.js';
import type { AuditEventRow } from './tables.js';
import { rangeKey } from './subtrees.js';

export type { VerifyFinding } from './verify-finding.js';

/** The outcome of `verifyAuditTrail`. */
export interface VerifyReport {
  ok: boolean;
  events: number;
  leaves: number;
  /** Leaves below this index were pruned by retention; the kept frontier stands in for them. */
  horizon: number;
  /** Checkpoints whose signature verified, from the database and the exported file together. */
  checkpointsVerified: number;
  /** Events committed but not yet in the tree (newer than the last seal). */
  unsealed: number;
  /** The first problem in tree order, or null. */
  first: VerifyFinding | null;
  findings: VerifyFinding[];
}

type Row = Selectable<AuditEventRow>;
const PAGE = 5000;

async function* eventRows(db: Kysely<Database>): AsyncGenerator<Row> {
  for (let after = -1; ;) {
    const rows = await db
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '>', after)
      .orderBy('seq')
      .limit(PAGE)
      .execute();
    yield* rows;
    if (rows.length < PAGE) return;
    after = rows[rows.length - 1]!.seq;
  }
}

async function allLeaves(db: Kysely<Database>, horizon: number) {
  const out: { leaf_index: number; event_seq: number; leaf_hash: string }[] = [];
  for (;;) {
    const rows = await db
      .selectFrom('audit_leaves')
      .selectAll()
      .where('leaf_index', '>=', horizon + out.length)
      .orderBy('leaf_index')
      .limit(PAGE)
      .execute();
    out.push(...rows);
    if (rows.length < PAGE) return out;
  }
}

/** Signed roots by tree size: checkpoints from the database and the exported file whose signature verifies. */
function trustedRoots(
  stored: Checkpoint[],
  exported: readonly ExportedLine[],
  keys: ReadonlyMap<string, KeyObject>,
  findings: VerifyFinding[],
): Map<number, string> {
  const roots = new Map<number, string>();
  const trust = (c: Checkpoint, where: string) => {
    if (!checkpointSignatureValid(c, keys)) {
      findings.push({
        kind: 'checkpoint_forged',
        treeSize: c.treeSize,
        detail: `${where} checkpoint ${c.treeSize}: bad signature or unknown key`,
      });
      return;
    }
    const known = roots.get(c.treeSize);
    if (known !== undefined && known !== c.rootHash)
      findings.push({
        kind: 'checkpoint_mismatch',
        treeSize: c.treeSize,
        detail: `two validly signed roots for tree size ${c.treeSize}`,
      });
    roots.set(c.treeSize, c.rootHash);
  };
  for (const c of stored) trust(c, 'database');
  const bySize = new Map(stored.map((c) => [c.treeSize, c]));
  for (const line of exported) {
    if ('error' in line) {
      findings.push({ kind: 'exported_unreadable', detail: `exported checkpoint line ${line.line}: ${line.error}` });
      continue;
    }
    const c = line.checkpoint;
    const db = bySize.get(c.treeSize);
    if (!db)
      findings.push({
        kind: 'checkpoint_missing',
        treeSize: c.treeSize,
        detail: `exported checkpoint ${c.treeSize} is not in the database`,
      });
    else if (db.rootHash !== c.rootHash || db.signature !== c.signature)
      findings.push({
        kind: 'checkpoint_mismatch',
        treeSize: c.treeSize,
        detail: `database checkpoint ${c.treeSize} differs from the exported one`,
      });
    trust(c, 'exported');
  }
  return roots;
}

type Leaf = { leaf_index: number; event_seq: number; leaf_hash: string };
type EventHashes = Map<number, { id: string; hash: string | null }>;
const NO_EVENT = Buffer.alloc(32);

async function storedNodeHashes(db: Kysely<Database>): Promise<Map<string, string>> {
  const rows = await db.selectFrom('audit_nodes').selectAll().execute();
  return new Map(rows.map((r) => [rangeKey(Number(r.start_leaf), Number(r.size)), r.hash]));
}

/** Walks the leaves once: the tree recomputed from the events and the stored one, checked at every signed size. */
function walk(
  start: MerkleFrontier,
  leaves: Leaf[],
  events: EventHashes,
  roots: Map<number, string>,
  nodes: ReadonlyMap<string, string>,
) {
  const forgedNodes: string[] = [];
  const checked = new Set<string>();
  // A stored node must be the subtree the stored leaves make: proofs are built from it.
  const checkNode = (begin: number, size: number, hash: Buffer) => {
    const key = rangeKey(begin, size);
    checked.add(key);
    if (nodes.has(key) && nodes.get(key) !== hash.toString('hex')) forgedNodes.push(key);
  };
  const fromEvents = start.clone();
  const stored = start.clone();
  const mismatched: number[] = [];
  let eventsFailAt: number | null = null;
  let storedFailAt: number | null = null;
  let storedPass = start.size;
  for (const leaf of leaves) {
    const hash = events.get(leaf.event_seq)?.hash ?? null;
    if (hash !== leaf.leaf_hash) mismatched.push(leaf.leaf_index);
    fromEvents.push(hash ? Buffer.from(hash, 'hex') : NO_EVENT);
    stored.push(Buffer.from(leaf.leaf_hash, 'hex'), checkNode);
    const signed = roots.get(stored.size);
    if (signed === undefined) continue;
    if (eventsFailAt === null && fromEvents.root().toString('hex') !== signed) eventsFailAt = stored.size;
    if (storedFailAt === null && stored.root().toString('hex') !== signed) storedFailAt = stored.size;
    if (storedFailAt === null) storedPass = stored.size;
  }
  // Every row must be one of those subtrees: one that is not (not perfect, not aligned, past the stored tree) was
  // never written by the sealer, and one past the tree would stop the sealer when its leaves arrive. Rows wholly
  // below the horizon lost their leaves to a prune; proofs there use the kept nodes only.
  for (const key of nodes.keys()) {
    const [begin, size] = key.split(':').map(Number) as [number, number];
    if (!checked.has(key) && begin + size > start.size) forgedNodes.push(key);
  }
  return { mismatched, eventsFailAt, storedFailAt, storedPass, forgedNodes };
}

/** Roots that fail although (or before) the events match their leaves: the leaves were rewritten too. */
function rewrites(w: ReturnType<typeof walk>, at: (leafIndex: number) => Leaf | undefined): VerifyFinding[] {
  const findings: VerifyFinding[] = [];
  if (w.eventsFailAt !== null && w.mismatched.every((i) => i >= w.eventsFailAt!))
    findings.push({
      kind: 'leaves_rewritten',
      treeSize: w.eventsFailAt,
      leafIndex: w.storedPass,
      seq: at(w.storedPass)?.event_seq,
      detail:
        `events and audit_leaves were rewritten together: the tree no longer matches checkpoint ${w.eventsFailAt}; ` +
        `the first changed event is among leaves ${w.storedPass}..${w.eventsFailAt - 1}`,
    });
  else if (w.storedFailAt !== null && (w.eventsFailAt === null || w.eventsFailAt > w.storedFailAt))
    findings.push({
      kind: 'leaves_rewritten',
      treeSize: w.storedFailAt,
      detail: `audit_leaves no longer matches checkpoint ${w.storedFailAt}; the events do`,
    });
  return findings;
}

/** Names what happened to the event sealed at `leaf`: removed, moved to another seq (reordered) or changed. */
async function classify(db: Kysely<Database>, leaf: Leaf, events: EventHashes, deep: boolean): Promise<VerifyFinding> {
  const at = { leafIndex: leaf.leaf_index, seq: leaf.event_seq };
  const now = events.get(leaf.event_seq);
  if (!now)
    return {
      ...at,
      kind: 'removed',
      detail: `the event sealed as leaf ${leaf.leaf_index} (seq ${leaf.event_seq}) is gone`,
    };
  if (deep)
    for await (const row of eventRows(db))
      if (row.seq !== leaf.event_seq && rowLeafHash(row, leaf.event_seq) === leaf.leaf_hash)
        return {
          ...at,
          eventId: row.id,
          kind: 'reordered',
          detail: `the event sealed at seq ${leaf.event_seq} (leaf ${leaf.leaf_index}) now sits at seq ${row.seq}`,
        };
  return {
    ...at,
    eventId: now.id,
    kind: 'changed',
    detail: `event seq ${leaf.event_seq} (leaf ${leaf.leaf_index}) differs from what was sealed`,
  };
}

/**
 * Checks the audit trail against its signed checkpoints (the database's and an exported copy's): recomputes every
 * leaf from `audit_events`, the tree from the leaves, and each signed root, and names the first event that was
 * changed, removed, inserted or reordered. `keys` are the pinned audit public keys (never read from the database).
 */
export async function verifyAuditTrail(deps: {
  db: Kysely<Database>;
  keys: ReadonlyMap<string, KeyObject>;
  exported?: readonly ExportedLine[];
}): Promise<VerifyReport> {
  const { db } = deps;
  const findings: VerifyFinding[] = [];
  const stored = (await db.selectFrom('audit_checkpoints').selectAll().orderBy('tree_size').execute()).map(
    checkpointFromRow,
  );
  const roots = trustedRoots(stored, deps.exported ?? [], deps.keys, findings);
  const pruned = await checkHorizon(db, deps.keys, roots, findings);
  // A hold or release the audit key did not sign: pruning does not honor the release (or keeps everything).
  for (const p of (await holdStates(db, deps.keys)).problems) findings.push({ kind: 'hold_forged', detail: p.detail });
  const horizon = pruned.horizon;
  // Checkpoints, then leaves, then events: each only grows while a live server seals, so every signed size is
  // within the leaves read and every leaf's event is among the events read, without holding one long snapshot.
  const leaves = await allLeaves(db, horizon);
  const events: EventHashes = new Map();
  for await (const row of eventRows(db)) events.set(row.seq, { id: row.id, hash: rowLeafHash(row) });
  const gap = leaves.findIndex((l, i) => l.leaf_index !== horizon + i);
  if (gap >= 0)
    findings.push({
      kind: gap === 0 ? 'removed' : 'leaves_rewritten',
      leafIndex: horizon + gap,
      detail: `audit_leaves has no leaf ${horizon + gap}${gap === 0 ? ', the first above the prune horizon' : ''}`,
    });
  for (const size of roots.keys())
    if (size > horizon + leaves.length)
      findings.push({
        kind: 'checkpoint_root',
        treeSize: size,
        detail: `checkpoint ${size} is larger than the stored tree (${horizon + leaves.length} leaves)`,
      });

  const w = walk(pruned.frontier, leaves, events, roots, await storedNodeHashes(db));
  for (const key of w.forgedNodes.slice(0, 100))
    findings.push({
      kind: 'node_forged',
      detail: `audit_nodes ${key} (start:size) is not the subtree its leaves make: proofs built on it would fail`,
    });
  const bySeq = new Map(leaves.map((l) => [l.event_seq, l]));
  const at = (leafIndex: number) => leaves[leafIndex - horizon];
  for (const [n, index] of w.mismatched.entries()) {
    if (n >= 100) break;
    findings.push(await classify(db, at(index)!, events, n === 0));
  }
  // A forged frontier fails every root above it: that is its finding, not a rewrite of the surviving leaves.
  if (pruned.trusted) findings.push(...rewrites(w, at));
  const sealedTop = leaves.reduce((m, l) => Math.max(m, l.event_seq), 0);
  let unsealed = 0;
  for (const [seq, e] of events) {
    if (bySeq.has(seq)) continue;
    if (seq < sealedTop)
      findings.push({
        kind: 'inserted',
        seq,
        eventId: e.id,
        detail: `event seq ${seq} sits among sealed events but was never sealed`,
      });
    else unsealed++;
  }
  return report(findings, { events: events.size, leaves: leaves.length, horizon, verified: roots.size, unsealed });
}

// Findings about events carry their seq, the order a reader of the trail sees them in.
const ORDER = (f: VerifyFinding) => f.seq ?? f.leafIndex ?? Number.MAX_SAFE_INTEGER;

function report(
  findings: VerifyFinding[],
  counts: { events: number; leaves: number; horizon: number; verified: number; unsealed: number },
): VerifyReport {
  const { events, leaves, horizon, verified, unsealed } = counts;
  const eventKinds = new Set(['changed', 'removed', 'inserted', 'reordered', 'leaves_rewritten']);
  const sorted = [...findings].sort((a, b) => ORDER(a) - ORDER(b));
  const first = sorted.find((f) => eventKinds.has(f.kind)) ?? sorted[0] ?? null;
  return {
    ok: findings.length === 0,
    events,
    leaves,
    horizon,
    checkpointsVerified: verified,
    unsealed,
    first,
    findings: sorted,
  };
}
