import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
// Code blocks hold shell and TypeScript, not links.
const prose = readme.replace(/```[\s\S]*?```/g, '');
const links = [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] as string);

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

describe('README links work in a clone', () => {
  it('points every relative link at a file of the repository', () => {
    const files = links.filter((l) => !/^(https?:|mailto:|#)/.test(l)).map((l) => l.split('#')[0] as string);
    expect(files.length).toBeGreaterThan(10);
    const missing = files.filter((f) => !existsSync(join(root, decodeURIComponent(f))));
    expect(missing).toEqual([]);
    // Nothing outside the clone (the design notes once lived in ../shared).
    expect(files.filter((f) => f.startsWith('../') || f.startsWith('/'))).toEqual([]);
  });

  it('points every in-page link at a heading', () => {
    // A repeated heading gets -1, -2… as on GitHub.
    const seen = new Map<string, number>();
    const headings = new Set(
      [...readme.replace(/```[\s\S]*?```/g, '').matchAll(/^#{1,6} (.+)$/gm)].map((m) => {
        const a = anchorOf(m[1] as string);
        const n = seen.get(a) ?? 0;
        seen.set(a, n + 1);
        return n ? `${a}-${n}` : a;
      }),
    );
    const anchors = links.filter((l) => l.startsWith('#')).map((l) => l.slice(1));
    expect(anchors.length).toBeGreaterThan(5);
    expect(anchors.filter((a) => !headings.has(a))).toEqual([]);
  });
});
