import { createHash } from 'node:crypto';

/** RFC 6962 §2.1 hashing over SHA-256: leaves and interior nodes carry different prefixes (no second preimages). */
export function leafHash(entry: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(0x00)).update(entry).digest();
}

/** RFC 6962 interior node: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(0x01)).update(left).update(right).digest();
}

/** The root of an empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

/** The largest power of two strictly below n (n > 1): where RFC 6962 splits a tree of n leaves. */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[n]) of RFC 6962 §2.1, over leaf hashes. */
export function rootOf(leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return Buffer.from(leaves[0]!);
  const k = split(leaves.length);
  return nodeHash(rootOf(leaves.slice(0, k)), rootOf(leaves.slice(k)));
}

/** PATH(m, D[n]) of RFC 6962 §2.1.1: the audit path of leaf m in the tree of `leaves`. */
export function inclusionPath(leaves: readonly Uint8Array[], m: number): Buffer[] {
  if (!Number.isInteger(m) || m < 0 || m >= leaves.length) throw new RangeError('leaf index outside the tree');
  if (leaves.length === 1) return [];
  const k = split(leaves.length);
  return m < k
    ? [...inclusionPath(leaves.slice(0, k), m), rootOf(leaves.slice(k))]
    : [...inclusionPath(leaves.slice(k), m - k), rootOf(leaves.slice(0, k))];
}

function subproof(m: number, leaves: readonly Uint8Array[], complete: boolean): Buffer[] {
  const n = leaves.length;
  if (m === n) return complete ? [] : [rootOf(leaves)];
  const k = split(n);
  return m <= k
    ? [...subproof(m, leaves.slice(0, k), complete), rootOf(leaves.slice(k))]
    : [...subproof(m - k, leaves.slice(k), false), rootOf(leaves.slice(0, k))];
}

/** PROOF(m, D[n]) of RFC 6962 §2.1.2: proves the tree of the first m leaves is a prefix of `leaves`. */
export function consistencyProof(leaves: readonly Uint8Array[], m: number): Buffer[] {
  if (!Number.isInteger(m) || m < 0 || m > leaves.length) throw new RangeError('tree size outside the tree');
  // A proof from the empty tree, or from a tree to itself, is empty (RFC 9162 §2.1.4).
  if (m === 0 || m === leaves.length) return [];
  return subproof(m, leaves, true);
}

/**
 * The right edge of a growing tree: the roots of its perfect subtrees, largest first. Appending is O(log n) and
 * so is the root, which lets the sealer and the verifier walk millions of leaves once instead of per checkpoint.
 */
export class MerkleFrontier {
  private readonly nodes: { size: number; hash: Buffer<ArrayBufferLike> }[] = [];
  private count = 0;

  /** How many leaves have been appended. */
  get size(): number {
    return this.count;
  }

  /** Appends one leaf hash; `onPerfect` hears of every perfect subtree the leaf completes (start, size, hash). */
  push(leaf: Uint8Array, onPerfect?: (start: number, size: number, hash: Buffer) => void): void {
    let node: { size: number; hash: Buffer<ArrayBufferLike> } = { size: 1, hash: Buffer.from(leaf) };
    for (let top = this.nodes.at(-1); top && top.size === node.size; top = this.nodes.at(-1)) {
      this.nodes.pop();
      node = { size: top.size * 2, hash: nodeHash(top.hash, node.hash) };
      onPerfect?.(this.count + 1 - node.size, node.size, node.hash);
    }
    this.nodes.push(node);
    this.count++;
  }

  /** A frontier resumed at `size` from its perfect subtrees' hashes, largest first (a pruned tree's horizon). */
  static resume(size: number, hashes: readonly Uint8Array[]): MerkleFrontier {
    const f = new MerkleFrontier();
    let bit = 2 ** 52;
    for (const hash of hashes) {
      while (bit >= 1 && Math.floor(size / bit) % 2 === 0) bit /= 2;
      f.nodes.push({ size: bit, hash: Buffer.from(hash) });
      bit /= 2;
    }
    f.count = size;
    return f;
  }

  /** An independent copy: a sealer extends a copy and keeps it only once its transaction commits. */
  clone(): MerkleFrontier {
    const copy = new MerkleFrontier();
    copy.nodes.push(...this.nodes);
    copy.count = this.count;
    return copy;
  }

  /** MTH over everything appended so far. */
  root(): Buffer {
    if (this.nodes.length === 0) return EMPTY_ROOT;
    let acc = this.nodes[this.nodes.length - 1]!.hash;
    for (let i = this.nodes.length - 2; i >= 0; i--) acc = nodeHash(this.nodes[i]!.hash, acc);
    return acc;
  }
}
