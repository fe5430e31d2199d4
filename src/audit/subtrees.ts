import { CarapaceError } from '../platform/index.js';
import { nodeHash, rootOf } from './merkle.js';

/**
 * RFC 6962 proofs over a source of subtree hashes instead of an array of every leaf, so that they still work once a
 * prefix of the leaves has been pruned. Every hash a proof contains is MTH over one leaf range [start, start + size):
 * either a perfect, aligned subtree or the right edge of a tree. The algorithms below ask the source only for the
 * nodes they emit, which is what lets the pruner record exactly the nodes that later proofs will ask for.
 */
export interface SubtreeSource {
  /** MTH over the leaves [start, start + size). */
  node(start: number, size: number): Buffer;
}

/** The largest power of two strictly below n (n > 1): where RFC 6962 splits a tree of n leaves. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The key a subtree is stored under. */
export const rangeKey = (start: number, size: number): string => `${start}:${size}`;

function path(src: SubtreeSource, m: number, start: number, n: number): Buffer[] {
  if (n === 1) return [];
  const k = splitPoint(n);
  return m < k
    ? [...path(src, m, start, k), src.node(start + k, n - k)]
    : [...path(src, m - k, start + k, n - k), src.node(start, k)];
}

function subproof(src: SubtreeSource, m: number, start: number, n: number, complete: boolean): Buffer[] {
  if (m === n) return complete ? [] : [src.node(start, n)];
  const k = splitPoint(n);
  return m <= k
    ? [...subproof(src, m, start, k, complete), src.node(start + k, n - k)]
    : [...subproof(src, m - k, start + k, n - k, false), src.node(start, k)];
}

/** PATH(m, D[n]) of RFC 6962 §2.1.1 over `src`. */
export function inclusionFrom(src: SubtreeSource, m: number, n: number): Buffer[] {
  if (!Number.isInteger(m) || m < 0 || m >= n) throw new RangeError('leaf index outside the tree');
  return path(src, m, 0, n);
}

/** PROOF(m, D[n]) of RFC 6962 §2.1.2 over `src`; empty from the empty tree or to the same size (RFC 9162). */
export function consistencyFrom(src: SubtreeSource, m: number, n: number): Buffer[] {
  if (!Number.isInteger(m) || m < 0 || m > n) throw new RangeError('tree size outside the tree');
  if (m === 0 || m === n) return [];
  return subproof(src, m, 0, n, true);
}

/**
 * The frontier (compact range) of a tree of `size` leaves: its perfect subtrees, largest first, one per set bit of
 * `size`. Their hashes are all a verifier needs to go on from `size`, and their root is the tree's root.
 */
export function frontierRanges(size: number): { start: number; size: number }[] {
  const out: { start: number; size: number }[] = [];
  let start = 0;
  for (let bit = 2 ** Math.floor(Math.log2(Math.max(size, 1))); bit >= 1; bit /= 2)
    if (Math.floor(size / bit) % 2 === 1) {
      out.push({ start, size: bit });
      start += bit;
    }
  return out;
}

/**
 * The tree as stored after pruning: leaves below `horizon` are gone, the kept nodes stand in for them. A range that
 * reaches below the horizon is split the RFC 6962 way until each part is a kept node or lies above it; one that can
 * be neither was never kept, and asking for it is `ERR_AUDIT_PRUNED`. Computed nodes are memoized per instance.
 */
export class PrunedTree implements SubtreeSource {
  private readonly memo = new Map<string, Buffer>();

  constructor(
    readonly horizon: number,
    private readonly kept: ReadonlyMap<string, Buffer>,
    /** The leaf hashes from `horizon` on, in leaf order. */
    private readonly leaves: readonly Buffer[],
  ) {}

  /** How many leaves the tree has, pruned ones included. */
  get size(): number {
    return this.horizon + this.leaves.length;
  }

  node(start: number, size: number): Buffer {
    const key = rangeKey(start, size);
    const hit = this.kept.get(key) ?? this.memo.get(key);
    if (hit) return hit;
    if (start + size > this.size) throw new RangeError('subtree outside the stored tree');
    let hash: Buffer;
    if (start >= this.horizon && size <= 64)
      hash = rootOf(this.leaves.slice(start - this.horizon, start - this.horizon + size));
    else if (size === 1) throw new CarapaceError('ERR_AUDIT_PRUNED', 'that part of the audit tree has been pruned');
    else {
      const k = splitPoint(size);
      hash = nodeHash(this.node(start, k), this.node(start + k, size - k));
    }
    this.memo.set(key, hash);
    return hash;
  }
}

/** A source that remembers every node a proof asked for below `below`: what a prune must keep. */
export function recording(src: SubtreeSource, below: number, into: Map<string, Buffer>): SubtreeSource {
  return {
    node(start, size) {
      const hash = src.node(start, size);
      if (start + size <= below) into.set(rangeKey(start, size), hash);
      return hash;
    },
  };
}

const half = (n: number) => Math.floor(n / 2);

/**
 * RFC 9162 §2.1.4.2: does `proof` show the tree of `first` leaves (root `firstRoot`) is a prefix of the tree of
 * `second` leaves (root `secondRoot`)? Used by `verify` to check the kept nodes against the signed checkpoints.
 */
export function consistencyHolds(
  first: number,
  second: number,
  firstRoot: Buffer,
  secondRoot: Buffer,
  proof: readonly Buffer[],
): boolean {
  if (first === second) return proof.length === 0 && firstRoot.equals(secondRoot);
  if (first === 0 || first > second) return first === 0 && proof.length === 0;
  const nodes = (first & (first - 1)) === 0 ? [firstRoot, ...proof] : [...proof];
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) [fn, sn] = [half(fn), half(sn)];
  let fr = nodes[0]!;
  let sr = nodes[0]!;
  for (const c of nodes.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else sr = nodeHash(sr, c);
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && fr.equals(firstRoot) && sr.equals(secondRoot);
}
