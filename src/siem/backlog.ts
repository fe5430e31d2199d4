import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** One spooled record: its leaf index and its OCSF JSON line. */
export interface BacklogEntry {
  leaf: number;
  line: string;
}

/**
 * Records read from the trail and not yet accepted by the collector, on disk in this node's data directory. The
 * database cursor names what was delivered; the spool only saves re-reading and converting after a restart, so a
 * node that dies with a full spool loses nothing: the next holder of the lease re-reads from the cursor.
 */
export interface Backlog {
  readonly size: number;
  /** The last spooled leaf, or null when empty. */
  last(): number | null;
  /** The first `n` entries. */
  head(n: number): BacklogEntry[];
  /** Appends entries (ascending, contiguous after the last) and fsyncs. */
  append(entries: BacklogEntry[]): void;
  /** Forgets every entry at or below `leaf` (delivered). */
  dropThrough(leaf: number): void;
  /** Keeps only entries that continue right after `delivered`; a spool out of step with the cursor is cleared. */
  reconcile(delivered: number): void;
}

/** Opens the spool file, keeping every complete line (a torn last line from a crash is left out). */
export function openBacklog(path: string): Backlog {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let entries: BacklogEntry[] = existsSync(path) ? parse(readFileSync(path, 'utf8')) : [];

  const rewrite = () => {
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      if (entries.length) writeSync(fd, entries.map(serialize).join(''));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  };
  rewrite();

  return {
    get size() {
      return entries.length;
    },
    last: () => entries.at(-1)?.leaf ?? null,
    head: (n) => entries.slice(0, n),
    append(more) {
      if (more.length === 0) return;
      const fd = openSync(path, 'a', 0o600);
      try {
        writeSync(fd, more.map(serialize).join(''));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      entries = entries.concat(more);
    },
    dropThrough(leaf) {
      const kept = entries.filter((e) => e.leaf > leaf);
      if (kept.length === entries.length) return;
      entries = kept;
      rewrite();
    },
    reconcile(delivered) {
      const kept = entries.filter((e) => e.leaf > delivered);
      // Leaves have no gaps, so the spool must start right after the cursor; otherwise re-read from the cursor.
      const inStep = kept.length === 0 || kept[0]!.leaf === delivered + 1;
      if (inStep && kept.length === entries.length) return;
      entries = inStep ? kept : [];
      rewrite();
    },
  };
}

function serialize(e: BacklogEntry): string {
  // The line is already JSON: spliced in rather than parsed and serialized again.
  return `{"leaf":${e.leaf},"record":${e.line}}\n`;
}

function parse(text: string): BacklogEntry[] {
  const out: BacklogEntry[] = [];
  for (const raw of text.split('\n')) {
    if (!raw) continue;
    try {
      const { leaf, record } = JSON.parse(raw) as { leaf: number; record: unknown };
      out.push({ leaf, line: JSON.stringify(record) });
    } catch {
      break;
    }
  }
  return out;
}
