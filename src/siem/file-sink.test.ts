import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FixedClock } from '../platform/index.js';
import { createFileSink } from './file-sink.js';

describe('SIEM file sink rotation', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('prunes only its own rotated files, never a neighbour that shares its name as a prefix', () => {
    const dir = mkdtempSync(join(tmpdir(), 'carapace-sink-'));
    dirs.push(dir);
    // `file.path` pointed at `<dir>/audit`: the checkpoint export and another service's log live beside it.
    const neighbours = ['audit.checkpoints.jsonl', 'audit.log', 'audit.2019-old-notes.txt'];
    for (const f of neighbours) writeFileSync(join(dir, f), 'keep me\n');
    const clock = new FixedClock(new Date('2026-03-01T00:00:00Z'));
    const sink = createFileSink({ path: join(dir, 'audit'), maxBytes: 1024, rotateInterval: 0, keep: 2 }, clock);
    for (let i = 0; i < 6; i++) {
      sink.write(['x'.repeat(1000)]);
      clock.advance(1000);
    }
    sink.close();
    for (const f of neighbours) expect(existsSync(join(dir, f)), f).toBe(true);
    const rotated = readdirSync(dir).filter((f) => /^audit\.\d{4}-/.test(f) && !neighbours.includes(f));
    expect(rotated).toHaveLength(2);
  });
});
