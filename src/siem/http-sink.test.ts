import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Outbound } from '../outbound/index.js';
import { testDatabases, testOutbound } from '../testing/index.js';
import { checkCollectorUrl, createHttpPoster } from './http-sink.js';

const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return err as { code?: string; message: string };
  }
  return null;
};

describe('SIEM HTTP sink settings and collector answers', () => {
  let storage: Awaited<ReturnType<ReturnType<typeof testDatabases>[number]['open']>>;
  let outbound: Outbound;
  beforeAll(async () => {
    storage = await testDatabases()[0]!.open();
    outbound = testOutbound(storage.db, { settings: { allowLoopbackHttp: true } });
  });
  afterAll(() => storage.close());

  it('refuses credentials in the collector URL at start, without repeating them', () => {
    // fetch refuses such a URL on every POST (and names it in its error): the sink would fail forever.
    const err = refusal(() => checkCollectorUrl('https://siem:hunter2@siem.example/ingest', outbound));
    expect(err?.code).toBe('ERR_CONFIG_INVALID');
    expect(err?.message).not.toContain('hunter2');
  });

  it('refuses an authorization value that is no valid header at start, without repeating it', () => {
    const make = (authorization: string) => () =>
      createHttpPoster(
        { url: 'https://siem.example/x', format: 'json', authorization, timeoutMs: 1000 },
        Date.now,
        outbound,
      );
    for (const bad of ['Bearer s3cr3t\r\nX-Injected: 1', 'Bearer s3cr3t\n', 'Bearer s3cr3t\u0000']) {
      const err = refusal(make(bad));
      expect(err?.code, JSON.stringify(bad)).toBe('ERR_CONFIG_INVALID');
      expect(err?.message).not.toContain('s3cr3t');
    }
    expect(refusal(make('Bearer s3cr3t'))).toBeNull();
  });

  it('does not read an endless answer until the timeout', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const post = createHttpPoster(
        { url: `http://127.0.0.1:${port}/x`, format: 'json', authorization: null, timeoutMs: 4000 },
        Date.now,
        outbound,
      );
      const started = Date.now();
      expect(await post(['{}'])).toEqual({ ok: true });
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
