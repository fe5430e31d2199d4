import { mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../src/audit/index.js';
import { type Outbound, resolverLookup } from '../src/outbound/index.js';
import { systemClock } from '../src/platform/index.js';
import { startDnsServer, testDatabases, testOutbound, type TestDnsServer } from '../src/testing/index.js';
import { type Receiver, receiverTls, refusal, startReceiver, until } from './outbound-support.js';

// Each name stands for an internet host; its address is a loopback one the test-only list treats as public.
const HOSTS: Record<string, string> = {
  'hooks.test': '127.0.0.2',
  'slow.test': '127.0.0.3',
  'other.test': '127.0.0.4',
  'silent.test': '127.0.0.5',
};

describe.each(testDatabases())('outbound limits, redirects and breakers ($name)', (engine) => {
  let storage: Awaited<ReturnType<typeof engine.open>>;
  let dns: TestDnsServer;
  let tls: Awaited<ReturnType<typeof receiverTls>>;
  let hooks: Receiver;
  let slow: Receiver;
  let other: Receiver;
  let target: Receiver;
  let silent: TcpServer;
  const held: ServerResponse[] = [];
  const silentSockets = new Set<Socket>();
  let answer: (res: ServerResponse, path: string) => void = (res) => res.writeHead(200).end('ok');

  beforeAll(async () => {
    storage = await engine.open();
    tls = await receiverTls([...Object.keys(HOSTS), 'localhost']);
    dns = await startDnsServer((name, type) => (HOSTS[name] ? (type === 'A' ? [HOSTS[name]] : []) : null));
    hooks = await startReceiver(tls, '127.0.0.2', (req, res) => answer(res, req.url ?? ''), 0, true);
    // Same port everywhere, so one URL shape reaches every host.
    slow = await startReceiver(tls, '127.0.0.3', (_req, res) => held.push(res), hooks.port);
    other = await startReceiver(tls, '127.0.0.4', (_req, res) => res.writeHead(200).end('other'), hooks.port);
    target = await startReceiver(tls, '127.0.0.1', (_req, res) => res.writeHead(200).end('followed'));
    // Accepts TCP connections and never speaks: no TLS handshake ever completes.
    silent = createTcpServer((s) => {
      silentSockets.add(s);
      s.on('close', () => silentSockets.delete(s));
    });
    await new Promise<void>((resolve) => silent.listen(hooks.port, '127.0.0.5', resolve));
  });
  afterAll(async () => {
    for (const r of held.splice(0)) r.destroy();
    for (const s of silentSockets) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
    for (const r of [hooks, slow, other, target]) await r.close();
    await dns.close();
    await storage.close();
  });

  const layer = (settings: Record<string, unknown> = {}): Outbound =>
    testOutbound(storage.db, {
      settings,
      inject: {
        resolver: resolverLookup(dns.resolver()),
        ca: [tls.ca],
        testPublicCidrs: Object.values(HOSTS).map((a) => `${a}/32`),
      },
    });
  const url = (host: string, path = '/') => `https://${host}:${hooks.port}${path}`;
  const release = () => {
    for (const r of held.splice(0)) r.writeHead(200).end('released');
  };

  it('returns a 3xx as the answer and never follows it, to metadata or to a real listener', async () => {
    const outbound = layer();
    for (const location of ['http://169.254.169.254/latest/meta-data/', `https://localhost:${target.port}/x`]) {
      answer = (res) => res.writeHead(302, { location }).end();
      const res = await outbound.send({ purpose: 'webhook', url: url('hooks.test'), method: 'POST', body: '{}' });
      expect(res.status).toBe(302);
      expect(res.headers.location).toBe(location);
    }
    expect(target.requests).toHaveLength(0);
  });

  it("sends only the caller's headers: no client certificate, no cookie, no Authorization of ours", async () => {
    const outbound = layer();
    answer = (res) => res.writeHead(200, { 'set-cookie': 'session=abc' }).end('ok');
    const original = { ...https.globalAgent.options };
    // Even a global agent carrying a client certificate is not used: every call has a fresh agent of its own.
    Object.assign(https.globalAgent.options, { cert: tls.cert, key: tls.key });
    try {
      for (let i = 0; i < 2; i++)
        await outbound.send({ purpose: 'webhook', url: url('hooks.test'), method: 'POST', headers: { 'x-sig': 'v1' } });
    } finally {
      https.globalAgent.options = original;
    }
    for (const h of hooks.requests.slice(-2))
      expect(Object.keys(h).sort()).toEqual(['connection', 'content-length', 'host', 'x-sig']);
    expect(hooks.requests.slice(-2).every((h) => !h.cookie && !h.authorization && h['x-sig'] === 'v1')).toBe(true);
    expect(hooks.clientCerts.slice(-2)).toEqual([false, false]);
    const refused: Record<string, string>[] = [{ host: 'evil.test' }, { 'x-a': 'v\r\nx-b: 1' }, { te: 'trailers' }];
    for (const bad of refused) {
      const err = await refusal(
        outbound.send({ purpose: 'webhook', url: url('hooks.test'), method: 'GET', headers: bad }),
      );
      expect(err.context.reason).toBe('invalid_header');
    }
  });

  it('verifies the certificate: an unknown CA fails, a CA in outbound.trustedCaFile works', async () => {
    const strict = testOutbound(storage.db, {
      inject: { resolver: resolverLookup(dns.resolver()), testPublicCidrs: ['127.0.0.2/32'] },
    });
    const err = await refusal(strict.send({ purpose: 'siem', url: url('hooks.test'), method: 'GET' }));
    expect(err).toMatchObject({ code: 'ERR_OUTBOUND_FAILED', context: { reason: 'unable_to_verify_leaf_signature' } });
    const file = join(mkdtempSync(join(tmpdir(), 'outbound-ca-')), 'ca.pem');
    writeFileSync(file, tls.ca);
    const trusting = testOutbound(storage.db, {
      settings: { trustedCaFile: file },
      inject: { resolver: resolverLookup(dns.resolver()), testPublicCidrs: ['127.0.0.2/32'] },
    });
    answer = (res) => res.writeHead(200).end('ok');
    expect((await trusting.send({ purpose: 'siem', url: url('hooks.test'), method: 'GET' })).status).toBe(200);
    // The certificate must name the host: the same receiver reached under another name fails.
    const other = await refusal(
      trusting.send({ purpose: 'siem', url: `https://127.0.0.2:${hooks.port}/`, method: 'GET' }),
    );
    expect(other.code).toBe('ERR_OUTBOUND_FAILED');
  });

  it('stops reading past the response cap: fails, or cuts the body when the caller asks', async () => {
    const outbound = layer({ maxResponseBytes: 8192 });
    const endless = (res: ServerResponse) => {
      res.writeHead(200);
      const pump = () => {
        while (!res.destroyed && res.write(Buffer.alloc(16 * 1024)));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    };
    answer = endless;
    const send = (extra: object) =>
      outbound.send({ purpose: 'webhook', url: url('hooks.test'), method: 'GET', ...extra });
    expect((await refusal(send({}))).code).toBe('ERR_OUTBOUND_TOO_LARGE');
    // A caller cannot raise the cap above configuration.
    expect((await refusal(send({ maxResponseBytes: 10_000_000 }))).code).toBe('ERR_OUTBOUND_TOO_LARGE');
    const cut = await send({ maxResponseBytes: 4096, overflow: 'truncate' });
    expect([cut.status, cut.body.byteLength, cut.truncated]).toEqual([200, 4096, true]);
    answer = (res) => res.writeHead(200, { 'content-length': '100000' }).end(Buffer.alloc(100_000));
    expect((await refusal(send({}))).context.reason).toBe('too_large');
  });

  it('times out a destination that never finishes the handshake, and one that never answers', async () => {
    const handshake = layer({ connectTimeout: 0.5, timeout: 30 });
    const stalled = await refusal(handshake.send({ purpose: 'webhook', url: url('silent.test'), method: 'GET' }));
    expect(stalled).toMatchObject({ code: 'ERR_OUTBOUND_TIMEOUT', context: { reason: 'connect_timeout' } });
    // The total limit: the connection is made, the answer never comes. A caller may shorten it, never lengthen it.
    const answer = layer({ connectTimeout: 30, timeout: 1 });
    const mute = await refusal(
      answer.send({ purpose: 'webhook', url: url('slow.test'), method: 'GET', timeoutMs: 60_000 }),
    );
    expect(mute).toMatchObject({ code: 'ERR_OUTBOUND_TIMEOUT', context: { reason: 'total_timeout' } });
    release();
  });

  it('caps calls per host with a bounded queue, and a busy host does not block another', async () => {
    const outbound = layer({ hostConcurrency: 2, hostQueue: 1, breaker: { failures: 100 } });
    const hanging = [1, 2, 3].map(() => outbound.send({ purpose: 'webhook', url: url('slow.test'), method: 'GET' }));
    await until('two calls held at the slow host', () => held.length === 2);
    const busy = await refusal(outbound.send({ purpose: 'webhook', url: url('slow.test'), method: 'GET' }));
    expect(busy).toMatchObject({ code: 'ERR_OUTBOUND_BUSY', context: { reason: 'host_busy' } });
    const res = await outbound.send({ purpose: 'webhook', url: url('other.test'), method: 'GET' });
    expect(res.body.toString()).toBe('other');
    release();
    await until('the queued call to reach the host', () => held.length === 1);
    release();
    expect((await Promise.all(hanging)).map((r) => r.body.toString())).toEqual(['released', 'released', 'released']);
  });

  it('answers a call still queued at its deadline with a timeout, and never sends it later', async () => {
    const outbound = layer({ hostConcurrency: 1, hostQueue: 1 });
    const first = outbound.send({ purpose: 'webhook', url: url('slow.test'), method: 'GET' });
    await until('the first call held', () => held.length === 1);
    const queued = await refusal(
      outbound.send({ purpose: 'webhook', url: url('slow.test'), method: 'GET', timeoutMs: 300 }),
    );
    expect(queued).toMatchObject({ code: 'ERR_OUTBOUND_TIMEOUT', context: { reason: 'queue_timeout' } });
    const reached = slow.requests.length;
    release();
    expect((await first).status).toBe(200);
    expect(slow.requests.length).toBe(reached);
  });

  it('keeps its own worker budget over all hosts: past it and its queue, calls fail at once', async () => {
    const outbound = layer({ concurrency: 2, queue: 0, hostConcurrency: 2 });
    const hanging = [1, 2].map(() => outbound.send({ purpose: 'webhook', url: url('slow.test'), method: 'GET' }));
    await until('the budget to be used up', () => held.length === 2);
    const busy = await refusal(outbound.send({ purpose: 'webhook', url: url('other.test'), method: 'GET' }));
    expect(busy).toMatchObject({ code: 'ERR_OUTBOUND_BUSY', context: { reason: 'budget_busy' } });
    release();
    await Promise.all(hanging);
    expect((await outbound.send({ purpose: 'webhook', url: url('other.test'), method: 'GET' })).status).toBe(200);
  });

  it('opens a breaker after consecutive failures, tries once after the cooldown, and closes on success', async () => {
    const outbound = layer({ breaker: { failures: 2, cooldown: 0.3 } });
    const key = `subscription-${engine.name}`;
    const send = () => outbound.send({ purpose: 'webhook', url: url('hooks.test'), method: 'POST', breakerKey: key });
    const state = () => outbound.breakers().find((b) => b.key === key);
    const reached = () => hooks.requests.length;
    answer = (res) => res.writeHead(503).end();
    expect((await send()).status).toBe(503);
    expect((await send()).status).toBe(503);
    expect(state()).toMatchObject({ state: 'open', failures: 2 });
    const before = reached();
    expect((await refusal(send())).code).toBe('ERR_OUTBOUND_CIRCUIT_OPEN');
    expect(reached()).toBe(before);
    // After the cooldown one trial goes through; it fails, and the breaker opens again.
    const opened = Date.now();
    await until('the cooldown', () => Date.now() - opened > 350);
    expect((await send()).status).toBe(503);
    expect(state()?.state).toBe('open');
    // The next trial is held by the endpoint: half-open, and a second call meanwhile is not let through.
    answer = (res) => held.push(res);
    const reopened = Date.now();
    await until('the cooldown', () => Date.now() - reopened > 350);
    const trial = send();
    await until('the trial to arrive', () => held.length === 1);
    expect(state()?.state).toBe('half-open');
    expect((await refusal(send())).code).toBe('ERR_OUTBOUND_CIRCUIT_OPEN');
    release();
    expect((await trial).status).toBe(200);
    expect(state()).toMatchObject({ state: 'closed', failures: 0 });
    await outbound.close();
    const audit = createAuditLog({ db: storage.db, clock: systemClock });
    const events = await audit.list({ typePrefix: 'outbound.breaker.', objectId: key });
    // Opening from closed and closing are audited; the re-opening after the failed trial is only logged.
    expect(events.map((e) => e.type).reverse()).toEqual(['outbound.breaker.opened', 'outbound.breaker.closed']);
    expect(events.at(-1)).toMatchObject({ object: { type: 'outbound_endpoint', id: key }, details: { failures: 2 } });
  });
});
