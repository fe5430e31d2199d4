import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Clock } from '../platform/index.js';

/** The suffix rotate() gives a file: `.<ISO time with : and . as ->`, and `-<n>` when that name was taken. */
const ROTATED = /^(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z)(?:-(\d+))?$/;

/** Settings of the JSON-lines sink (`audit.export.file.*`). */
export interface FileSinkSettings {
  path: string;
  maxBytes: number;
  /** Seconds after which the current file is rotated (0: by size only). */
  rotateInterval: number;
  keep: number;
}

/** Appends OCSF records as JSON lines, rotating by size and age and keeping a bounded number of old files. */
export interface FileSink {
  /** Appends the lines and fsyncs before returning: once it returns, the lines are durable. */
  write(lines: string[]): void;
  close(): void;
}

/** Opens (or creates) the export file. Its age counts from when this process first saw it, at worst a restart. */
export function createFileSink(settings: FileSinkSettings, clock: Clock): FileSink {
  mkdirSync(dirname(settings.path), { recursive: true, mode: 0o700 });
  let fd = -1;
  let size = 0;
  let openedAt = 0;

  const open = () => {
    fd = openSync(settings.path, 'a', 0o600);
    size = fstatSync(fd).size;
    // mtime of an existing file is the best age we have across restarts; a fresh file starts now.
    openedAt = size > 0 ? statSync(settings.path).mtimeMs : clock.now().getTime();
  };
  const rotate = () => {
    closeSync(fd);
    const stamp = clock.now().toISOString().replace(/[:.]/g, '-');
    let target = `${settings.path}.${stamp}`;
    for (let i = 1; existsSync(target); i++) target = `${settings.path}.${stamp}-${i}`;
    renameSync(settings.path, target);
    prune();
    open();
  };
  const prune = () => {
    const dir = dirname(settings.path);
    // Only names rotate() makes: a neighbour that merely starts with the same name (a log, the checkpoint
    // export) is not ours to delete. Timestamps sort as text; a same-millisecond suffix sorts by number.
    const base = basename(settings.path);
    const rotated = readdirSync(dir)
      .map((f) => ({ f, m: ROTATED.exec(f.startsWith(`${base}.`) ? f.slice(base.length + 1) : '') }))
      .filter((x): x is { f: string; m: RegExpExecArray } => x.m !== null)
      .sort((a, b) => a.m[1]!.localeCompare(b.m[1]!) || Number(a.m[2] ?? 0) - Number(b.m[2] ?? 0))
      .map((x) => x.f);
    for (const f of rotated.slice(0, Math.max(0, rotated.length - settings.keep))) rmSync(join(dir, f));
  };
  const tooOld = () =>
    settings.rotateInterval > 0 && size > 0 && clock.now().getTime() - openedAt >= settings.rotateInterval * 1000;
  const flush = (chunk: string) => {
    if (!chunk) return;
    writeSync(fd, chunk);
    size += Buffer.byteLength(chunk);
  };

  open();
  return {
    write(lines) {
      if (tooOld()) rotate();
      let chunk = '';
      for (const line of lines) {
        const text = `${line}\n`;
        if (size + Buffer.byteLength(chunk) + Buffer.byteLength(text) > settings.maxBytes && size + chunk.length > 0) {
          flush(chunk);
          chunk = '';
          fsyncSync(fd);
          rotate();
        }
        chunk += text;
      }
      flush(chunk);
      fsyncSync(fd);
    },
    close() {
      if (fd >= 0) closeSync(fd);
      fd = -1;
    },
  };
}
