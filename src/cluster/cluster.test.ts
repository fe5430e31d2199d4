import { randomUUID } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../platform/index.js';
import { type Cluster, createCluster, createMemoryCluster, WINDOW_MEMBER_LIMIT } from './index.js';

const opened: Cluster[] = [];
afterAll(async () => {
  for (const c of opened) await c.close();
});

/** Two adapters of one deployment, as two processes would open them (memory: one process, one adapter). */
async function pair(kind: 'memory' | 'redis'): Promise<[Cluster, Cluster]> {
  if (kind === 'memory') {
    const one = createMemoryCluster();
    return [one, one];
  }
  const redis = { url: process.env.REDIS_URL as string, keyPrefix: `t-${randomUUID()}:`, commandTimeoutMs: 1000 };
  const a = await createCluster({ redis }, { log: createLogger('silent') });
  const b = await createCluster({ redis }, { log: createLogger('silent') });
  opened.push(a, b);
  return [a, b];
}

const kinds: Array<'memory' | 'redis'> = process.env.REDIS_URL ? ['memory', 'redis'] : ['memory'];

describe.each(kinds)('cluster primitives (%s)', (kind) => {
  it('counts fixed windows across adapters and resets with the window', async () => {
    const [a, b] = await pair(kind);
    const t = 120_000;
    expect(await a.countWindow('w', 2, 60, t)).toEqual({ count: 2, resetInMs: 60_000 });
    expect(await b.countWindow('w', 3, 60, t + 59_000)).toEqual({ count: 5, resetInMs: 1000 });
    expect((await a.countWindow('w', 1, 60, t + 60_000)).count).toBe(1);
  });

  it('counts events in a sliding window, and forgets on request', async () => {
    const [a, b] = await pair(kind);
    await a.recordEvent('e', 60, 1000);
    await b.recordEvent('e', 60, 2000);
    expect(await a.countRecent('e', 60, 3000)).toBe(2);
    expect(await b.countRecent('e', 60, 61_500)).toBe(1);
    await a.forget('e');
    expect(await b.countRecent('e', 60, 3000)).toBe(0);
  });

  it('reserves once, tells the others the holder, and releases only for the holder', async () => {
    const [a, b] = await pair(kind);
    expect(await a.reserve('r', 'mine', 60)).toEqual({ reserved: true });
    expect(await b.reserve('r', 'theirs', 60)).toEqual({ reserved: false, holder: 'mine' });
    await b.release('r', 'theirs');
    expect(await b.reserve('r', 'theirs', 60)).toEqual({ reserved: false, holder: 'mine' });
    await a.release('r', 'mine');
    expect(await b.reserve('r', 'theirs', 60)).toEqual({ reserved: true });
  });

  it('renews a lease for its holder only, and not once it expired and another took it', async () => {
    const [a, b] = await pair(kind);
    expect(await a.reserve('lease', 'mine', 1)).toEqual({ reserved: true });
    expect(await b.renew('lease', 'theirs', 60)).toBe(false);
    expect(await a.renew('lease', 'mine', 60)).toBe(true);
    // Renewed to 60 s: still held after the first TTL would have run out.
    await new Promise((r) => setTimeout(r, 1100));
    expect(await b.reserve('lease', 'theirs', 60)).toEqual({ reserved: false, holder: 'mine' });
    await a.release('lease', 'mine');
    expect(await b.reserve('lease', 'theirs', 60)).toEqual({ reserved: true });
    expect(await a.renew('lease', 'mine', 60)).toBe(false);
  });

  it('keeps scored windows: idempotent adds, ranges by score, trims below the ttl, bounded', async () => {
    const [a, b] = await pair(kind);
    expect(await a.windowAdd('sw', 'e1', 1000, 60_000)).toBe(true);
    expect(await b.windowAdd('sw', 'e2', 2000, 60_000)).toBe(true);
    // Re-adding a member (a re-evaluated event) changes nothing, not even its score.
    expect(await b.windowAdd('sw', 'e1', 5000, 60_000)).toBe(false);
    expect(await a.windowRange('sw', 0, 10_000, 100)).toEqual([
      { member: 'e1', score: 1000 },
      { member: 'e2', score: 2000 },
    ]);
    expect(await a.windowRange('sw', 1500, 10_000, 100)).toEqual([{ member: 'e2', score: 2000 }]);
    expect(await a.windowRange('sw', 0, 10_000, 1)).toEqual([{ member: 'e1', score: 1000 }]);
    // A count over the same ranges, without reading the members.
    expect(await b.windowCount('sw', 0, 10_000)).toBe(2);
    expect(await b.windowCount('sw', 1500, 10_000)).toBe(1);
    expect(await b.windowCount('nothing-here', 0, 10_000)).toBe(0);
    // An add 61 s later drops what is older than its ttl.
    await a.windowAdd('sw', 'e3', 62_000, 60_000);
    expect((await b.windowRange('sw', 0, 100_000, 100)).map((m) => m.member)).toEqual(['e2', 'e3']);
    await a.forget('sw');
    expect(await b.windowRange('sw', 0, 100_000, 100)).toEqual([]);
  });

  it('bounds a scored window to WINDOW_MEMBER_LIMIT members, dropping the lowest scores', async () => {
    const [a] = await pair(kind);
    for (let i = 0; i <= WINDOW_MEMBER_LIMIT; i++) await a.windowAdd('big', `m${i}`, 1000 + i, 3_600_000);
    const all = await a.windowRange('big', 0, Number.MAX_SAFE_INTEGER, WINDOW_MEMBER_LIMIT + 10);
    expect(all).toHaveLength(WINDOW_MEMBER_LIMIT);
    expect(all[0]).toEqual({ member: 'm1', score: 1001 });
  }, 60_000);

  it('sees a value once', async () => {
    const [a, b] = await pair(kind);
    expect(await a.seenOnce('jti-1', 60)).toBe(true);
    expect(await b.seenOnce('jti-1', 60)).toBe(false);
    expect(await a.seenOnce('jti-2', 60)).toBe(true);
  });

  it('delivers published messages to subscribers', async () => {
    const [a, b] = await pair(kind);
    const got: string[] = [];
    await b.subscribe('ch', (m) => got.push(m));
    await a.publish('ch', 'hello');
    for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual(['hello']);
  });
});

describe('cluster adapter without Redis', () => {
  it('refuses with ERR_CLUSTER_UNAVAILABLE at once, except for the named telemetry-rate exception', async () => {
    // Nothing listens on port 1: every connection attempt fails.
    const redis = { url: 'redis://127.0.0.1:1', keyPrefix: 'dead:', commandTimeoutMs: 200 };
    const events: string[] = [];
    const cluster = await createCluster(
      { redis },
      { log: createLogger('silent'), onUnavailable: (e) => events.push(e.operation) },
    );
    opened.push(cluster);
    const started = Date.now();
    for (const call of [
      () => cluster.countWindow('k', 1, 60, Date.now()),
      () => cluster.countRecent('k', 60, Date.now()),
      () => cluster.recordEvent('k', 60, Date.now()),
      () => cluster.reserve('k', 'v', 60),
      () => cluster.seenOnce('k', 60),
      () => cluster.publish('ch', 'm'),
    ])
      await expect(call()).rejects.toMatchObject({ code: 'ERR_CLUSTER_UNAVAILABLE', status: 503 });
    // Bounded far above the command timeout (no flake under load) and far below a hang.
    expect(Date.now() - started).toBeLessThan(10_000);
    const local = await cluster.countWindow('k', 3, 60, Date.now(), { exception: 'telemetry-rate' });
    expect(local.count).toBe(3);
    await expect(cluster.publish('ch', 'm', { exception: 'credential-fanout' })).resolves.toBeUndefined();
    expect(events).toContain('seenOnce');
  });

  it('does not hang on a Redis that accepts connections and never answers', async () => {
    const held: Socket[] = [];
    const blackhole = createServer((s) => held.push(s));
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    const { port } = blackhole.address() as { port: number };
    try {
      const redis = { url: `redis://127.0.0.1:${port}`, keyPrefix: 'hung:', commandTimeoutMs: 300 };
      const cluster = await createCluster({ redis }, { log: createLogger('silent') });
      opened.push(cluster);
      // Requests, not the start, are what must never hang.
      const started = Date.now();
      await expect(cluster.seenOnce('k', 60)).rejects.toMatchObject({ code: 'ERR_CLUSTER_UNAVAILABLE' });
      await expect(cluster.countRecent('k', 60, Date.now())).rejects.toMatchObject({ code: 'ERR_CLUSTER_UNAVAILABLE' });
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      for (const s of held) s.destroy();
      await new Promise<void>((resolve) => blackhole.close(() => resolve()));
    }
  });
});
