import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '../src');

/**
 * Folders that may open connections themselves, and why. Everything else reaches a URL outside the platform only
 * through src/outbound (its SSRF rules, pinned addresses, caps and breakers).
 */
const ALLOWED: Record<string, string> = {
  outbound: 'the outbound layer itself',
  client: 'the client library: runs on the caller side and talks to the Carapace deployment its user names',
  'vehicle-sdk': "the vehicle side: a unit talks to its own deployment's gateway (HTTPS and the command channel)",
  drill: 'drills run on the operator side against the deployment they drill (its admin and public listeners)',
  testing: 'the test harness: requests to the server under test; product code cannot import it (dependency-cruiser)',
};

/** Ways of opening an outbound connection without the layer. */
const DIRECT_CALLS: Array<[string, RegExp]> = [
  ['fetch', /(^|[^.\w])fetch\s*\(|globalThis\.fetch/],
  ['undici', /from\s+'undici'|require\(\s*'undici'\s*\)/],
  ['node:http(s) import', /^import\s+(?!type\b)[^;]*from\s+'(node:)?(http|https|http2)'/m],
  ['http(s).request/get', /\b(https?|http2)\.(request|get|connect)\s*\(/],
  [
    'raw socket',
    /\b(tls|net)\.(connect|createConnection)\s*\(|import\s+\{[^}]*\bconnect\b[^}]*\}\s+from\s+'(node:)?(tls|net)'/,
  ],
  ['WebSocket client', /new\s+WebSocket\s*\(/],
];

/** Source without comments, so a comment naming fetch( is not a call. */
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

/** The rules a file breaks. */
function directCalls(text: string): string[] {
  const body = code(text);
  return DIRECT_CALLS.filter(([, re]) => re.test(body)).map(([name]) => name);
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('every outbound call goes through src/outbound', () => {
  it('recognizes each way of calling out directly (the check can fail)', () => {
    const samples = [
      "await fetch('https://x.test')",
      "import { request } from 'undici';",
      "import https from 'node:https';",
      "http.get('http://x.test')",
      "import { connect } from 'node:tls';",
      "const s = new WebSocket('wss://x.test')",
    ];
    expect(samples.map((s) => directCalls(s).length)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(directCalls("import type https from 'node:https';\n// fetch('x') in a comment\nthis.fetch2()")).toEqual([]);
  });

  it('finds no direct call outside the allowed folders', () => {
    const found = sources(SRC).flatMap((path) => {
      const module = relative(SRC, path).split('/')[0]!;
      if (module in ALLOWED) return [];
      const calls = directCalls(readFileSync(path, 'utf8'));
      return calls.length ? [`${relative(SRC, path)}: ${calls.join(', ')}`] : [];
    });
    expect(found).toEqual([]);
  });

  it('lists no stale exception: each allowed folder really calls out itself', () => {
    const calling = new Set(
      sources(SRC)
        .filter((path) => directCalls(readFileSync(path, 'utf8')).length > 0)
        .map((path) => relative(SRC, path).split('/')[0]!),
    );
    expect(Object.keys(ALLOWED).filter((m) => !calling.has(m))).toEqual([]);
  });
});
