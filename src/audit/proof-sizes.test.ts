import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyConsistency, verifyInclusion } from '../../test/merkle-verifier.js';
import { testDatabases } from '../testing/index.js';
import { proofTree } from './proof-tree.js';
import { consistencyFrom, frontierRanges, inclusionFrom, PrunedTree, rangeKey, recording } from './subtrees.js';

// Independent of the code under test: RFC 6962 MTH by its definition.
const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
const leafHash = (i: number) => sha(Buffer.of(0), Buffer.from(`leaf ${i}`));
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(Buffer.of(1), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

const TOTAL = 1100;
const LEAVES = Array.from({ length: TOTAL }, (_, i) => leafHash(i));
const roots = new Map<number, Buffer>();
const rootAt = (n: number) => roots.get(n) ?? roots.set(n, mth(LEAVES.slice(0, n))).get(n)!;
const SIZES = [1, 3, 64, 65, 255, 256, 257, 300, 301, 511, 512, 513, 769, 1023, 1024, 1025, TOTAL];
/** Leaves to prove in a tree of n: both ends, around the 256 boundaries, and a spread between. */
const probes = (n: number, from: number) =>
  [
    ...new Set([0, 1, 255, 256, 257, 299, 300, 511, 512, 513, 767, 768, 1023, 1024, n - 2, n - 1, Math.floor(n / 3)]),
  ].filter((m) => m >= from && m < n);

describe.each(testDatabases())('proofs over stored subtrees, for every size ($name)', (target) => {
  it('inclusion and consistency verify with the outside verifier, before and after a prune at 300', async () => {
    const storage = await target.open();
    const db = storage.db;
    try {
      for (let i = 0; i < TOTAL; i += 500)
        await db
          .insertInto('audit_leaves')
          .values(
            LEAVES.slice(i, i + 500).map((h, j) => ({
              leaf_index: i + j,
              event_seq: i + j + 1,
              leaf_hash: h.toString('hex'),
            })),
          )
          .execute();
      // The perfect subtrees of 256 leaves or more, as the sealer stores them.
      const nodes = [];
      for (let size = 256; size <= TOTAL; size *= 2)
        for (let start = 0; start + size <= TOTAL; start += size)
          nodes.push({ start_leaf: start, size, hash: mth(LEAVES.slice(start, start + size)).toString('hex') });
      await db.insertInto('audit_nodes').values(nodes).execute();

      const check = async (from: number, olderThanHorizon: number[]) => {
        let checked = 0;
        for (const n of SIZES) {
          for (const m of probes(n, from)) {
            const src = await proofTree(db, n, (s) => inclusionFrom(s, m, n));
            const path = inclusionFrom(src, m, n);
            expect(verifyInclusion(LEAVES[m]!, m, n, path, rootAt(n)), `leaf ${m} in ${n}`).toBe(true);
            checked++;
          }
          if (n < from) continue;
          const firsts = [...new Set([...olderThanHorizon, ...SIZES.filter((m) => m >= from && m <= n)])];
          for (const m of firsts.filter((f) => f <= n && f > 0)) {
            const src = await proofTree(db, n, (s) => consistencyFrom(s, m, n));
            let proof: Buffer[] = [];
            try {
              proof = consistencyFrom(src, m, n);
            } catch (e) {
              throw new Error(`consistency ${m} -> ${n} from ${from}: ${String(e)}`);
            }
            expect(verifyConsistency(m, n, rootAt(m), rootAt(n), proof), `${m} -> ${n}`).toBe(true);
            checked++;
          }
        }
        return checked;
      };
      expect(await check(0, [])).toBeGreaterThan(300);
      // A row at the start of a stored node but of another size is nobody's node: one source for leaves 10 and 800
      // of 812 reads the row [512, 768) and asks for [512, 812); the appended [512, 300) must not answer it.
      await db
        .insertInto('audit_nodes')
        .values({ start_leaf: 512, size: 300, hash: '00'.repeat(32) })
        .execute();
      const both = await proofTree(db, 812, (s) => [10, 800].map((m) => inclusionFrom(s, m, 812)));
      for (const m of [10, 800])
        expect(verifyInclusion(LEAVES[m]!, m, 812, inclusionFrom(both, m, 812), rootAt(812)), `leaf ${m}`).toBe(true);

      // Prune at a horizon that is not a power of two, keeping the frontier and what older checkpoints need.
      const horizon = 300;
      const older = [1, 3, 64, 100, 256, 257, 299];
      const full = new PrunedTree(0, new Map(), LEAVES);
      const kept = new Map<string, Buffer>();
      const rec = recording(full, horizon, kept);
      for (const r of frontierRanges(horizon)) rec.node(r.start, r.size);
      for (const m of older) consistencyFrom(rec, m, horizon);
      await db
        .insertInto('audit_prunes')
        .values({
          horizon,
          root_hash: rootAt(horizon).toString('hex'),
          max_seq: horizon,
          events: horizon,
          pruned_at: 'x',
          key_id: 'k',
          signature: 's',
        })
        .execute();
      await db
        .insertInto('audit_pruned_nodes')
        .values(
          [...kept].map(([key, hash]) => {
            const [start, size] = key.split(':').map(Number) as [number, number];
            return { start_leaf: start, size, hash: hash.toString('hex') };
          }),
        )
        .execute();
      await db.deleteFrom('audit_leaves').where('leaf_index', '<', horizon).execute();
      expect(await check(horizon, older)).toBeGreaterThan(150);
      expect(rangeKey(0, 256)).toBe('0:256');
    } finally {
      await storage.close();
    }
  });
});
