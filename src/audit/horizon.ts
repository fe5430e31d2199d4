import { type KeyObject, verify } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../storage/index.js';
import { canonicalJson } from '../wire/index.js';
import { MerkleFrontier } from './merkle.js';
import { frontierRanges, PrunedTree, rangeKey } from './subtrees.js';
import type { AuditPruneRow } from './tables.js';

/** Names what a prune signature is over, so it is never mistaken for a checkpoint or another signature. */
export const PRUNE_ORIGIN = 'carapace-audit-prune/v1';

/** The signed facts of one prune. */
export interface PruneRecord {
  horizon: number;
  rootHash: string;
  maxSeq: number;
  events: number;
  prunedAt: string;
  keyId: string;
}

/** The exact bytes a prune signature covers. */
export function pruneBody(p: PruneRecord): string {
  return canonicalJson({ origin: PRUNE_ORIGIN, ...p });
}

/** A stored prune row as its record. */
export function pruneFromRow(r: Selectable<AuditPruneRow>): PruneRecord & { signature: string } {
  return {
    horizon: Number(r.horizon),
    rootHash: r.root_hash,
    maxSeq: Number(r.max_seq),
    events: Number(r.events),
    prunedAt: r.pruned_at,
    keyId: r.key_id,
    signature: r.signature,
  };
}

/** True when the prune was signed by one of the pinned audit keys. */
export function pruneSignatureValid(p: PruneRecord & { signature: string }, keys: ReadonlyMap<string, KeyObject>) {
  const key = keys.get(p.keyId);
  if (!key) return false;
  const { signature, ...body } = p;
  try {
    return verify(null, Buffer.from(pruneBody(body), 'utf8'), key, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}

/** The latest prune horizon (0: nothing was ever pruned). */
export async function currentHorizon(db: Kysely<Database>): Promise<number> {
  const r = await db
    .selectFrom('audit_prunes')
    .select((e) => e.fn.max('horizon').as('h'))
    .executeTakeFirst();
  return r?.h === null || r?.h === undefined ? 0 : Number(r.h);
}

/**
 * Every kept node of the pruned prefix, by range key: only rows wholly below `horizon`. A row reaching above it was
 * never written by a prune (the table is append-only, so anyone can add one): taken as a kept node it would stand in
 * for surviving leaves, and let a prune take a rewritten prefix for the signed one.
 */
export async function keptNodes(db: Kysely<Database>, horizon: number): Promise<Map<string, Buffer>> {
  const rows = await db.selectFrom('audit_pruned_nodes').selectAll().execute();
  return new Map(
    rows
      .filter((r) => Number(r.start_leaf) + Number(r.size) <= horizon)
      .map((r) => [rangeKey(Number(r.start_leaf), Number(r.size)), Buffer.from(r.hash, 'hex')]),
  );
}

/** Rows of `audit_pruned_nodes` that reach above `horizon`: no prune writes one. */
export async function misplacedKept(db: Kysely<Database>, horizon: number): Promise<string[]> {
  const rows = await db.selectFrom('audit_pruned_nodes').select(['start_leaf', 'size']).execute();
  return rows
    .filter((r) => Number(r.start_leaf) + Number(r.size) > horizon)
    .map((r) => rangeKey(Number(r.start_leaf), Number(r.size)));
}

/** The stored tree up to `size` leaves: the kept nodes below the horizon, the leaves above it. */
export async function storedTree(db: Kysely<Database>, size: number): Promise<PrunedTree> {
  const horizon = await currentHorizon(db);
  const rows = await db
    .selectFrom('audit_leaves')
    .select('leaf_hash')
    .where('leaf_index', '>=', horizon)
    .where('leaf_index', '<', size)
    .orderBy('leaf_index')
    .execute();
  return new PrunedTree(
    horizon,
    await keptNodes(db, horizon),
    rows.map((r) => Buffer.from(r.leaf_hash, 'hex')),
  );
}

/** The frontier at the horizon, from the kept nodes (an empty frontier when nothing was pruned, or it is missing). */
export function frontierAt(horizon: number, kept: ReadonlyMap<string, Buffer>): MerkleFrontier | null {
  const hashes = frontierRanges(horizon).map((r) => kept.get(rangeKey(r.start, r.size)));
  if (hashes.some((h) => h === undefined)) return null;
  return MerkleFrontier.resume(horizon, hashes as Buffer[]);
}
