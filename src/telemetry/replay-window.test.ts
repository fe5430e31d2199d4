import { describe, expect, it } from 'vitest';
import { ReplayWindow } from './replay-window.js';

describe('ReplayWindow', () => {
  it('accepts in-order sequence numbers once each', () => {
    const w = ReplayWindow.empty(1024);
    for (let s = 1; s <= 3000; s++) expect(w.accept(s)).toEqual({ kind: 'fresh', jump: 1 });
    expect(w.top).toBe(3000);
    expect(w.accept(3000)).toEqual({ kind: 'duplicate' });
    expect(w.accept(2500)).toEqual({ kind: 'duplicate' });
  });

  it('accepts out-of-order numbers within the window exactly once', () => {
    const w = ReplayWindow.empty(1024);
    w.accept(2000);
    for (const s of [1999, 1500, 977, 1990]) {
      expect(w.accept(s)).toEqual({ kind: 'fresh', jump: 0 });
      expect(w.accept(s)).toEqual({ kind: 'duplicate' });
    }
  });

  it('refuses numbers at or beyond the window size below the top', () => {
    const w = ReplayWindow.empty(1024);
    w.accept(5000);
    expect(w.size).toBe(1024);
    expect(w.check(5000 - 1023)).toEqual({ kind: 'fresh', jump: 0 });
    expect(w.accept(5000 - 1024)).toEqual({ kind: 'too_old' });
    expect(w.accept(1)).toEqual({ kind: 'too_old' });
  });

  it('reports the size of a jump and forgets nothing it must still refuse', () => {
    const w = ReplayWindow.empty(1024);
    w.accept(10);
    expect(w.accept(1_000_010)).toEqual({ kind: 'fresh', jump: 1_000_000 });
    expect(w.accept(10)).toEqual({ kind: 'too_old' });
    // Bits of the old blocks were cleared by the jump: numbers just below the new top are fresh, once.
    expect(w.accept(1_000_009)).toEqual({ kind: 'fresh', jump: 0 });
    expect(w.accept(1_000_009)).toEqual({ kind: 'duplicate' });
  });

  it('wraps around its ring of blocks and past 2^32 without confusing numbers', () => {
    const w = ReplayWindow.empty(1024);
    const base = 2 ** 32 - 700;
    for (let s = base; s < base + 5000; s += 3) expect(w.accept(s).kind).toBe('fresh');
    // Numbers that share a ring slot with recent ones but are out of the window are too old, not duplicates.
    expect(w.accept(base + 4998 - 33 * 32)).toEqual({ kind: 'too_old' });
    // A gap inside the window that was never used is still fresh.
    expect(w.accept(base + 4998 - 1)).toEqual({ kind: 'fresh', jump: 0 });
    expect(w.accept(base + 4998 - 3)).toEqual({ kind: 'duplicate' });
    expect(w.accept(Number.MAX_SAFE_INTEGER).kind).toBe('fresh');
    expect(w.accept(Number.MAX_SAFE_INTEGER)).toEqual({ kind: 'duplicate' });
  });

  it('survives serialization (a restart does not reopen a replay)', () => {
    const w = ReplayWindow.empty(1024);
    for (const s of [300, 302, 900, 901, 1200]) w.accept(s);
    const restored = ReplayWindow.restore(1024, w.top, w.serialize());
    for (const s of [300, 302, 900, 901, 1200]) expect(restored.accept(s)).toEqual({ kind: 'duplicate' });
    expect(restored.accept(301)).toEqual({ kind: 'fresh', jump: 0 });
    expect(restored.accept(100)).toEqual({ kind: 'too_old' });
  });

  it('refuses everything below the top after a resize rather than reopening replays', () => {
    const w = ReplayWindow.empty(1024);
    w.accept(3000);
    const resized = ReplayWindow.restore(2048, w.top, w.serialize());
    expect(resized.accept(2999)).toEqual({ kind: 'duplicate' });
    expect(resized.accept(3001)).toEqual({ kind: 'fresh', jump: 1 });
  });

  it('rounds its size up to whole blocks', () => {
    expect(ReplayWindow.empty(1000).size).toBe(1024);
    expect(ReplayWindow.empty(4096).size).toBe(4096);
  });
});
