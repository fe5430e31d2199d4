import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Where a device keeps its telemetry sequence high-water mark across restarts. */
export interface SequenceStore {
  /** The highest sequence number that may have been used (0 when none). */
  load(): Promise<number>;
  /** Durably records a new high-water mark before any number up to it is used. */
  save(highWater: number): Promise<void>;
}

/** Keeps the high-water mark in memory only: for tests and for devices that persist it themselves. */
export class MemorySequenceStore implements SequenceStore {
  constructor(private value = 0) {}

  /** The stored high-water mark. */
  async load(): Promise<number> {
    return this.value;
  }

  /** Replaces the stored high-water mark. */
  async save(highWater: number): Promise<void> {
    this.value = highWater;
  }
}

/**
 * Keeps the high-water mark in a small file, replaced atomically (write, fsync, rename), so a power loss
 * leaves either the old or the new value and never a torn one.
 */
export class FileSequenceStore implements SequenceStore {
  constructor(private readonly file: string) {}

  /** Reads the file; a missing file means no number was used yet. */
  async load(): Promise<number> {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    const n = Number(text.trim());
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`sequence file ${this.file} is corrupt`);
    return n;
  }

  /** Writes and syncs a temporary file, then renames it over the old one. */
  async save(highWater: number): Promise<void> {
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${highWater}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}
