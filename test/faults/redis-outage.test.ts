import { randomUUID } from 'node:crypto';
import https from 'node:https';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../../src/client/index.js';
import { currentTotp } from '../../src/identity/index.js';
import type { RunningCarapace } from '../../src/server/index.js';
import { startPeer, startTestCarapace, type TestCarapace } from '../../src/testing/index.js';
import { type GatewayClient, httpsRequest } from '../../src/vehicle-sdk/index.js';
import { startPrivateRedis, type PrivateRedis } from './private-redis.js';
import { startFaultProxy, type FaultProxy } from './tcp-proxy.js';
import { eventually, within } from './waiting.js';

const fresh = () => new https.Agent({ keepAlive: false });

describe('Redis stopped, frozen and restarted (issue 18 item 3)', () => {
  const keyPrefix = `faults-${randomUUID().slice(0, 8)}:`;
  let redis: PrivateRedis;
  let proxy: FaultProxy;
  let a: TestCarapace;
  let b: RunningCarapace;
  let alice: CarapaceClient;

  const readyz = (node: { addresses: { admin: string } }) =>
    httpsRequest(`${node.addresses.admin}/readyz`, { ca: a.ca, agent: fresh() });
  const vehicles = () => alice.api('GET', '/v1/vehicles');
  /** A device request on `node`'s gateway over a fresh mTLS connection. */
  const deviceGet = (node: { addresses: { gateway: string } }, device: GatewayClient) => {
    const { key, issued } = device.credentials!;
    return httpsRequest(`${node.addresses.gateway}/v1/devices/${issued.deviceId}`, {
      ca: a.ca,
      cert: issued.certificate,
      key: key.privateKeyPem,
      agent: fresh(),
    });
  };

  beforeAll(async () => {
    redis = await startPrivateRedis();
    proxy = await startFaultProxy({ host: '127.0.0.1', port: Number(new URL(redis.url).port) });
    // Reloads a minute apart: whatever a node learns within a test came through Redis or its reconnect.
    a = await startTestCarapace({
      database: 'sqlite',
      overrides: {
        seedDemo: true,
        detect: { enabled: false },
        redis: { url: `redis://127.0.0.1:${proxy.port}`, keyPrefix, commandTimeoutMs: 1500 },
        pki: { revocationPollInterval: 60 },
      },
    });
    b = await startPeer(a);
    alice = await CarapaceClient.create({
      baseUrl: a.config.publicBaseUrl,
      ca: a.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await alice.login({
      email: 'alice@example.com',
      password: 'demo-alice-password',
      totp: () => currentTotp('JBSWY3DPEHPK3PXPALICE234', new Date()),
      scopes: ['openid', 'vehicle:read_status'],
    });
  }, 120_000);
  afterAll(async () => {
    redis?.thaw();
    await b?.close();
    await a?.stop();
    await proxy?.close();
    await redis?.close();
  });

  it('a replay check whose reply was lost with its connection is 503, never re-sent and called a replay', async () => {
    const raw = new Redis(redis.url);
    const proofs = async () => (await raw.keys(`${keyPrefix}seen:replay:*`)).length;
    try {
      expect((await vehicles()).status).toBe(200);
      const before = await proofs();
      proxy.holdReplies();
      const pending = vehicles();
      // Redis has run the SET NX of this request's proof; its reply is held. Then the connection drops.
      expect(await eventually(async () => (await proofs()) > before, 10_000)).toBe(true);
      proxy.cut();
      const answer = await within(10_000, pending);
      expect(answer.json).toMatchObject({ code: 'ERR_CLUSTER_UNAVAILABLE' });
      expect(answer.status).toBe(503);
      expect(await eventually(async () => (await vehicles()).status === 200, 15_000)).toBe(true);
    } finally {
      raw.disconnect();
    }
  });

  it('Redis killed: DPoP-bound requests are 503, not 401 "replayed"; /readyz red; green after restart', async () => {
    expect((await vehicles()).status).toBe(200);
    await redis.stop();
    const refused = await within(10_000, vehicles());
    expect(refused.status).toBe(503);
    expect(refused.json).toMatchObject({ code: 'ERR_CLUSTER_UNAVAILABLE' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    const probe = await within(10_000, readyz(a));
    expect(probe.status).toBe(503);
    expect(probe.json).toMatchObject({ status: 'not_ready', checks: { redis: false, database: true } });
    await redis.start();
    expect(await eventually(async () => (await vehicles()).status === 200, 15_000)).toBe(true);
    expect(await eventually(async () => (await readyz(a)).status === 200, 15_000)).toBe(true);
  });

  it('Redis frozen: answers 503 within the command timeout, never a false replay, and recovers on thaw', async () => {
    expect((await vehicles()).status).toBe(200);
    redis.freeze();
    try {
      const refused = await within(10_000, vehicles());
      expect(refused.status).toBe(503);
      expect(refused.json).toMatchObject({ code: 'ERR_CLUSTER_UNAVAILABLE' });
      const probe = await within(10_000, readyz(a));
      expect(probe.json).toMatchObject({ checks: { redis: false } });
    } finally {
      redis.thaw();
    }
    expect(await eventually(async () => (await vehicles()).status === 200, 15_000)).toBe(true);
    // Ten fresh requests after the thaw: none is taken for a replay of a proof sent while frozen.
    for (let i = 0; i < 10; i++) expect((await vehicles()).status).toBe(200);
  });

  it('a revoke while Redis is down answers at once; the other node catches up when Redis returns', async () => {
    const device = await a.enrolledDevice('TCU-FAULT-REDIS');
    expect((await deviceGet(b, device)).status).toBe(200);
    await redis.stop();
    try {
      const started = Date.now();
      const revoked = await httpsRequest(`${a.addresses.admin}/admin/v1/revocations`, {
        method: 'POST',
        ca: a.ca,
        ...a.operatorTls,
        agent: fresh(),
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ deviceId: device.credentials!.issued.deviceId, reason: 'keyCompromise' }),
      });
      expect(revoked.status).toBe(201);
      // The database is the truth: the call does not wait out a command timeout per announcement (3-11 s before).
      expect(Date.now() - started).toBeLessThan(3000);
      expect((await deviceGet(a, device)).status).toBe(401);
      // Node B missed the announcement, and its next periodic reload is a minute away.
      expect((await deviceGet(b, device)).status).toBe(200);
    } finally {
      await redis.start();
    }
    expect(await eventually(async () => (await deviceGet(b, device)).status === 401, 15_000)).toBe(true);
  });

  it('a node starts while Redis is down, reports it on /readyz, and is ready once Redis returns', async () => {
    await redis.stop();
    let c: RunningCarapace | null = null;
    try {
      c = await within(30_000, startPeer(a));
      const probe = await readyz(c);
      expect(probe.status).toBe(503);
      expect(probe.json).toMatchObject({ checks: { redis: false } });
      await redis.start();
      const node = c;
      expect(await eventually(async () => (await readyz(node)).status === 200, 15_000)).toBe(true);
    } finally {
      await redis.start().catch(() => undefined);
      await c?.close();
    }
  });
});
