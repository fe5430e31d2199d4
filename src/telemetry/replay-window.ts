/** What the window says about one sequence number. */
export type WindowVerdict = { kind: 'fresh'; jump: number } | { kind: 'duplicate' } | { kind: 'too_old' };

const BLOCK = 32;

/**
 * The per-device anti-replay window of RFC 6479: a ring of 32-bit blocks with one redundant block, so
 * advancing the top never shifts bits; it only clears whole blocks. A sequence number is fresh once: above
 * the top it advances the window, within `size` below the top it is accepted if its bit is clear, and below
 * that it is too old. Sequence numbers are integers up to 2^53 - 1, so block arithmetic uses division, not
 * 32-bit shifts.
 */
export class ReplayWindow {
  /** Largest sequence number seen (0: none yet). */
  top: number;
  private readonly blocks: Uint32Array;

  private constructor(
    readonly size: number,
    top: number,
    blocks: Uint32Array,
  ) {
    this.top = top;
    this.blocks = blocks;
  }

  /** A new, empty window of at least `size` sequence numbers (rounded up to a multiple of 32). */
  static empty(size: number): ReplayWindow {
    const usable = Math.ceil(size / BLOCK);
    return new ReplayWindow(usable * BLOCK, 0, new Uint32Array(usable + 1));
  }

  /** Restores a window saved with `serialize()`; a different configured size starts a conservative window. */
  static restore(size: number, top: number, saved: string | null): ReplayWindow {
    const fresh = ReplayWindow.empty(size);
    if (saved === null || top === 0) return new ReplayWindow(fresh.size, top, fresh.blocks);
    const bytes = Buffer.from(saved, 'base64');
    if (bytes.length !== fresh.blocks.length * 4) {
      // The window was resized: forget which numbers below the top were seen and refuse all of them, so a
      // configuration change never reopens a replay.
      return new ReplayWindow(fresh.size, top, ReplayWindow.allSeen(fresh.blocks.length));
    }
    const blocks = new Uint32Array(fresh.blocks.length);
    for (let i = 0; i < blocks.length; i++) blocks[i] = bytes.readUInt32LE(i * 4);
    return new ReplayWindow(fresh.size, top, blocks);
  }

  private static allSeen(length: number): Uint32Array {
    return new Uint32Array(length).fill(0xffffffff);
  }

  /** What `seq` would be, without changing the window. */
  check(seq: number): WindowVerdict {
    if (seq > this.top) return { kind: 'fresh', jump: seq - this.top };
    if (this.top - seq >= this.size) return { kind: 'too_old' };
    return this.isSet(seq) ? { kind: 'duplicate' } : { kind: 'fresh', jump: 0 };
  }

  /** Checks `seq` and, when fresh, records it. */
  accept(seq: number): WindowVerdict {
    const verdict = this.check(seq);
    if (verdict.kind !== 'fresh') return verdict;
    if (seq > this.top) this.advance(seq);
    const i = this.index(seq);
    this.blocks[i] = ((this.blocks[i] ?? 0) | (1 << (seq % BLOCK))) >>> 0;
    return verdict;
  }

  /** The bitmap as base64 (little-endian blocks), for the device's state row. */
  serialize(): string {
    const bytes = Buffer.alloc(this.blocks.length * 4);
    this.blocks.forEach((b, i) => bytes.writeUInt32LE(b, i * 4));
    return bytes.toString('base64');
  }

  private advance(seq: number): void {
    const from = Math.floor(this.top / BLOCK);
    const to = Math.floor(seq / BLOCK);
    const clear = Math.min(to - from, this.blocks.length);
    for (let k = 1; k <= clear; k++) this.blocks[(from + k) % this.blocks.length] = 0;
    this.top = seq;
  }

  private isSet(seq: number): boolean {
    return (((this.blocks[this.index(seq)] ?? 0) >>> (seq % BLOCK)) & 1) === 1;
  }

  private index(seq: number): number {
    return Math.floor(seq / BLOCK) % this.blocks.length;
  }
}
