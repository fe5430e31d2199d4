import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditTailPage, StoredAuditEvent } from '../audit/index.js';
import { type Cluster, createCluster, createMemoryCluster } from '../cluster/index.js';
import { createLogger, systemClock } from '../platform/index.js';
import type { Outbound } from '../outbound/index.js';
import { testDatabases, testOutbound } from '../testing/index.js';
import { openBacklog } from './backlog.js';
import { createCursorStore } from './cursor-store.js';
import { createHttpLoop, type ExportDeps } from './exporter.js';
import { checkCollectorUrl, createHttpPoster, type PostResult } from './http-sink.js';

const SECRET = `Splunk ${randomUUID()}`;
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

/** The trail's tail port over a fixed list of sealed events (the sealer is proved in src/audit). */
function trail(n: number) {
  const events: StoredAuditEvent[] = Array.from({ length: n }, (_, i) => ({
    seq: i + 1,
    id: randomUUID(),
    occurredAt: new Date(1_700_000_000_000 + i).toISOString(),
    type: 'auth.login.failed',
    actor: { type: 'anonymous', id: null },
    applicationId: null,
    tenantId: null,
    object: { type: 'user', id: `u${i}` },
    action: 'auth:login',
    decision: 'deny',
    reason: 'bad_password',
    policyVersion: null,
    context: { requestId: null, traceId: null, sourceIp: '198.51.100.7' },
    details: {},
  }));
  const tail = async (after: number, limit: number): Promise<AuditTailPage> => {
    const page = events.slice(after + 1, after + 1 + limit).map((event, k) => ({ leafIndex: after + 1 + k, event }));
    return { events: page, cursor: page.at(-1)?.leafIndex ?? after };
  };
  return { ids: events.map((e) => e.id), tail };
}

/** A real collector on loopback; `status` decides its answer, and it records ids of what it accepted. */
async function collector() {
  const received = new Map<string, number>();
  const seen = { authorization: [] as (string | undefined)[], status: 200 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.authorization.push(req.headers.authorization);
      if (seen.status === 200)
        for (const r of JSON.parse(Buffer.concat(chunks).toString()) as { metadata: { uid: string } }[])
          received.set(r.metadata.uid, (received.get(r.metadata.uid) ?? 0) + 1);
      res.writeHead(seen.status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, received, seen };
}

async function clusterPair(): Promise<[Cluster, Cluster]> {
  if (!process.env.REDIS_URL) {
    const one = createMemoryCluster();
    return [one, one];
  }
  const redis = { url: process.env.REDIS_URL, keyPrefix: `siem-${randomUUID()}:`, commandTimeoutMs: 1000 };
  const a = await createCluster({ redis }, { log: createLogger('silent') });
  const b = await createCluster({ redis }, { log: createLogger('silent') });
  closers.push(
    () => a.close(),
    () => b.close(),
  );
  return [a, b];
}

const settings = { intervalMs: 50, batchSize: 5, leaseTtlSeconds: 1, retryBaseMs: 1, retryMaxMs: 5 };

describe('the HTTP sink client', () => {
  let storage: Awaited<ReturnType<ReturnType<typeof testDatabases>[number]['open']>>;
  beforeAll(async () => {
    storage = await testDatabases()[0]!.open();
    closers.push(() => storage.close());
  });

  it('refuses a collector that is not https, except loopback http with outbound.allowLoopbackHttp', () => {
    const strict = testOutbound(storage.db);
    const local = testOutbound(storage.db, { settings: { allowLoopbackHttp: true } });
    expect(checkCollectorUrl('https://siem.example/ingest', strict).protocol).toBe('https:');
    expect(checkCollectorUrl('http://127.0.0.1:9/x', local).protocol).toBe('http:');
    for (const [url, outbound] of [
      ['http://127.0.0.1:9/x', strict],
      ['http://siem.example/x', local],
      ['ftp://siem.example/x', local],
      ['not a url', local],
    ] as const)
      expect(() => checkCollectorUrl(url, outbound)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
  });
});

describe.each(testDatabases())('SIEM export loops (%s)', (engine) => {
  let outbound: Outbound;
  const setup = async (n: number) => {
    const storage = await engine.open();
    closers.push(() => storage.close());
    const log: string[] = [];
    const stream = new Writable({ write: (c: Buffer, _e, cb) => (log.push(c.toString()), cb()) });
    const { ids, tail } = trail(n);
    outbound = testOutbound(storage.db, { settings: { allowLoopbackHttp: true } });
    const deps = (cluster: Cluster): ExportDeps => ({
      tail,
      cursors: createCursorStore({ db: storage.db, clock: systemClock }),
      cluster,
      clock: systemClock,
      log: createLogger('debug', stream),
      ocsf: { productVersion: 'test' },
      settings,
    });
    return { ids, deps, log };
  };
  const poster = (url: string) =>
    createHttpPoster({ url, format: 'json', authorization: SECRET, timeoutMs: 1000 }, Date.now, outbound);
  /** One node: its own backlog directory, as on its own disk. */
  const node = (deps: ExportDeps, post: (lines: string[]) => Promise<PostResult>) => {
    const backlog = openBacklog(join(mkdtempSync(join(tmpdir(), 'siem-node-')), 'backlog.jsonl'));
    return createHttpLoop(deps, { post, backlog, backlogMax: 100 });
  };

  it('sends the authorization header to the collector and never writes it to a log or a status', async () => {
    const siem = await collector();
    const { deps, log } = await setup(7);
    const loop = node(deps(createMemoryCluster()), poster(siem.url));
    siem.seen.status = 401;
    await loop.round();
    siem.seen.status = 200;
    await new Promise((r) => setTimeout(r, 10));
    await loop.round();
    expect(siem.received.size).toBe(7);
    expect(siem.seen.authorization.every((a) => a === SECRET)).toBe(true);
    const text = log.join('');
    expect(text).toContain('SIEM POST failed');
    expect(text).toContain('collector answered 401');
    expect(text).not.toContain(SECRET.split(' ')[1]);
    expect(JSON.stringify(loop.status())).not.toContain(SECRET.split(' ')[1]);
  });

  it('exports a sink from one node at a time, and a node that dies mid-batch loses nothing', async () => {
    const siem = await collector();
    const { ids, deps } = await setup(12);
    const [ca, cb] = await clusterPair();
    // Node A delivers a first batch and records it; its second batch reaches the collector, then A dies before
    // recording it: no cursor advance, no lease release.
    const real = poster(siem.url);
    let posts = 0;
    const a = node(deps(ca), async (lines) => {
      const res = await real(lines);
      if (++posts > 1) throw new Error('node A died');
      return res;
    });
    const b = node(deps(cb), poster(siem.url));
    await a.round();
    expect(a.status()).toMatchObject({ leaseHeld: true, exported: 5, cursor: 4 });
    expect(siem.received.size).toBe(10);
    // While A's lease lives, B does not export.
    await b.round();
    expect(b.status()).toMatchObject({ leaseHeld: false, exported: 0 });
    // A never renews; once its lease expires B takes over from the persisted cursor and delivers the rest.
    await new Promise((r) => setTimeout(r, 1100));
    await b.round();
    expect(b.status()).toMatchObject({ leaseHeld: true, cursor: 11 });
    for (const id of ids) expect(siem.received.has(id)).toBe(true);
    // At least once: the batch A sent but never recorded arrives twice; receivers dedupe by metadata.uid.
    expect(ids.slice(5, 10).map((id) => siem.received.get(id))).toEqual([2, 2, 2, 2, 2]);
    await b.stop();
  });
});
