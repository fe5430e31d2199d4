import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Where a vehicle keeps the envelope counters it has accepted, so a restart does not reopen replays.
 * `highest` is the largest counter accepted, `seen` the accepted ones within the window below it.
 */
export interface CounterStore {
  load(): { highest: number; seen: number[] };
  save(state: { highest: number; seen: number[] }): void;
}

/** Counters in memory (tests, simulators). */
export class MemoryCounterStore implements CounterStore {
  private state = { highest: 0, seen: [] as number[] };
  /** The stored state. */
  load() {
    return { highest: this.state.highest, seen: [...this.state.seen] };
  }
  /** Replaces the stored state. */
  save(state: { highest: number; seen: number[] }) {
    this.state = { highest: state.highest, seen: [...state.seen] };
  }
}

/**
 * A sliding window of accepted counters (the idea of RFC 6479): a counter above the highest is new; one
 * within `size` below it is accepted once; anything older is refused, because the vehicle can no longer
 * tell whether it was seen.
 */
export class CounterWindow {
  constructor(
    private readonly store: CounterStore,
    private readonly size = 64,
  ) {}

  /** Whether `counter` would be accepted, without recording it. */
  check(counter: number): 'ok' | 'replayed' | 'counter_too_old' {
    const { highest, seen } = this.store.load();
    if (!Number.isSafeInteger(counter) || counter < 1) return 'counter_too_old';
    if (counter > highest) return 'ok';
    if (counter <= highest - this.size) return 'counter_too_old';
    return seen.includes(counter) ? 'replayed' : 'ok';
  }

  /** Records an accepted counter. */
  accept(counter: number): void {
    const state = this.store.load();
    const highest = Math.max(state.highest, counter);
    const seen = [...state.seen, counter].filter((c) => c > highest - this.size);
    this.store.save({ highest, seen });
  }
}

/** Counters in a small JSON file, replaced atomically, so a restarted vehicle still refuses replays. */
export class FileCounterStore implements CounterStore {
  constructor(private readonly file: string) {}
  /** The stored state; a missing file means no envelope was accepted yet. */
  load() {
    try {
      const v = JSON.parse(readFileSync(this.file, 'utf8')) as { highest: number; seen: number[] };
      return { highest: Number(v.highest) || 0, seen: Array.isArray(v.seen) ? v.seen.map(Number) : [] };
    } catch {
      return { highest: 0, seen: [] };
    }
  }
  /** Writes, fsyncs and renames over the old file. */
  save(state: { highest: number; seen: number[] }) {
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(state));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}
