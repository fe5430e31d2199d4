import type { KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { frontierAt, keptNodes, misplacedKept, pruneFromRow, pruneSignatureValid } from './horizon.js';
import { MerkleFrontier } from './merkle.js';
import { consistencyFrom, consistencyHolds, PrunedTree } from './subtrees.js';
import type { VerifyFinding } from './verify-finding.js';

const forged = (detail: string, treeSize: number): VerifyFinding => ({ kind: 'frontier_forged', treeSize, detail });

/** Every signed checkpoint below the horizon must be provably a prefix of the horizon's tree, from the kept nodes. */
function olderCheckpointsHold(tree: PrunedTree, roots: ReadonlyMap<number, string>, top: Buffer): VerifyFinding[] {
  const out: VerifyFinding[] = [];
  for (const [m, root] of roots) {
    if (m === 0 || m >= tree.horizon) continue;
    let ok: boolean;
    try {
      const proof = consistencyFrom(tree, m, tree.horizon);
      ok = consistencyHolds(m, tree.horizon, Buffer.from(root, 'hex'), top, proof);
    } catch {
      ok = false;
    }
    if (!ok) out.push(forged(`the kept nodes do not prove checkpoint ${m} a prefix of the horizon`, m));
  }
  return out;
}

/**
 * Checks what retention left in place of the pruned prefix: each prune's signature (only the audit key authorizes a
 * deletion), and that the kept nodes reproduce the signed root at the horizon and prove every older signed
 * checkpoint a prefix of it. Returns the horizon, the frontier the walk over the surviving leaves starts from, and
 * whether that frontier matched its signed root (if not, roots above it say nothing about the surviving leaves).
 */
export async function checkHorizon(
  db: Kysely<Database>,
  keys: ReadonlyMap<string, KeyObject>,
  roots: ReadonlyMap<number, string>,
  findings: VerifyFinding[],
): Promise<{ horizon: number; frontier: MerkleFrontier; trusted: boolean }> {
  const prunes = (await db.selectFrom('audit_prunes').selectAll().orderBy('horizon').execute()).map(pruneFromRow);
  for (const p of prunes) {
    if (!pruneSignatureValid(p, keys))
      findings.push({ kind: 'prune_forged', treeSize: p.horizon, detail: `prune to ${p.horizon}: bad signature` });
    if (roots.get(p.horizon) !== p.rootHash)
      findings.push(forged(`prune to ${p.horizon} names a root no signed checkpoint has`, p.horizon));
  }
  const horizon = prunes.at(-1)?.horizon ?? 0;
  for (const key of (await misplacedKept(db, horizon)).slice(0, 100))
    findings.push(forged(`audit_pruned_nodes ${key} (start:size) reaches above the prune horizon ${horizon}`, horizon));
  if (horizon === 0) return { horizon, frontier: new MerkleFrontier(), trusted: true };
  const kept = await keptNodes(db, horizon);
  const frontier = frontierAt(horizon, kept);
  const signed = roots.get(horizon);
  if (!frontier || signed === undefined || frontier.root().toString('hex') !== signed) {
    findings.push(forged(`the kept frontier at the horizon ${horizon} does not reproduce its signed root`, horizon));
    return { horizon, frontier: frontier ?? new MerkleFrontier(), trusted: false };
  }
  findings.push(...olderCheckpointsHold(new PrunedTree(horizon, kept, []), roots, Buffer.from(signed, 'hex')));
  return { horizon, frontier, trusted: true };
}
