import { randomUUID, X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../src/client/index.js';
import { loadConfig } from '../src/config/index.js';
import { currentTotp } from '../src/identity/index.js';
import { createLogger } from '../src/platform/index.js';
import { createPlatform, type Platform, type RunningCarapace, startCarapace } from '../src/server/index.js';
import { freePort, startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import {
  type ChannelEvent,
  CommandChannel,
  MemoryAnswerStore,
  MemoryCounterStore,
  EnvelopeVerifier,
  GatewayClient,
  httpsRequest,
  VehicleModel,
} from '../src/vehicle-sdk/index.js';

const REDIS_URL = process.env.REDIS_URL ?? '';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const uniquePrefix = () => `carapace-t-${randomUUID().slice(0, 8)}:`;

/** Polls `check` until it holds or `ms` pass; returns whether it held. A check that throws counts as not yet. */
// Far below the 60 s polls the two-node tests set, so a change seen in time came through the fan-out, not a poll.
async function eventually(check: () => Promise<boolean>, ms = 15_000): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    // A request in flight when the gateway closes the device's connections for the change ends in a hang-up.
    if (await check().catch(() => false)) return true;
    if (Date.now() > until) return false;
    await sleep(25);
  }
}

/** Redis connections whose client name starts with `prefix` (the adapter names its connections after it). */
async function connectionsNamed(raw: Redis, prefix: string): Promise<string[]> {
  const list = (await raw.client('LIST')) as string;
  return list
    .split('\n')
    .map((line) => /\bname=(\S*)/.exec(line)?.[1] ?? '')
    .filter((name) => name.startsWith(prefix));
}

/** A platform without listeners (as the CLI opens one), on SQLite in a throwaway directory. */
async function platformWith(redis: Record<string, unknown>): Promise<{ platform: Platform; dispose(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'carapace-cluster-'));
  const config = loadConfig({ overrides: { dataDir, log: { level: 'silent' }, seedDemo: false, redis } });
  const platform = await createPlatform(config, { log: createLogger('silent') });
  return {
    platform,
    async dispose() {
      await platform.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

describe('one cluster-coordination layer in the code', () => {
  it('only src/cluster imports ioredis', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (/\.ts$/.test(name) && !path.startsWith(join('src', 'cluster')))
          if (/from 'ioredis'|require\('ioredis'\)/.test(readFileSync(path, 'utf8'))) offenders.push(path);
      }
    };
    walk('src');
    expect(offenders).toEqual([]);
  });
});

describe.runIf(REDIS_URL)('cluster adapter over Redis', () => {
  let raw: Redis;
  beforeAll(async () => {
    raw = new Redis(REDIS_URL, { lazyConnect: true });
    await raw.connect();
  });
  afterAll(() => {
    raw.disconnect();
  });

  it('a running process opens exactly one adapter: one command and one subscriber connection', async () => {
    const keyPrefix = uniquePrefix();
    expect(await connectionsNamed(raw, keyPrefix)).toEqual([]);
    const cp = await startTestCarapace({ database: 'sqlite', overrides: { redis: { url: REDIS_URL, keyPrefix } } });
    try {
      // Sign-in, DPoP, claims, telemetry, command limits, idempotency, fan-out and routing are all wired by now.
      expect((await connectionsNamed(raw, keyPrefix)).sort()).toEqual([
        `${keyPrefix}command`,
        `${keyPrefix}subscriber`,
      ]);
      const device = await cp.enrolledDevice('TCU-CL-ONE');
      expect(await connectionsNamed(raw, keyPrefix)).toHaveLength(2);
      device.close();
    } finally {
      await cp.stop();
    }
    expect(await eventually(async () => (await connectionsNamed(raw, keyPrefix)).length === 0)).toBe(true);
  });

  it('honours the key prefix: deployments with different prefixes do not share counters', async () => {
    const [p1, p2] = [uniquePrefix(), uniquePrefix()];
    const a = await platformWith({ url: REDIS_URL, keyPrefix: p1 });
    const sameDeployment = await platformWith({ url: REDIS_URL, keyPrefix: p1 });
    const other = await platformWith({ url: REDIS_URL, keyPrefix: p2 });
    try {
      const account = `victim-${randomUUID()}@example.com`;
      const limit = a.platform.config.auth.loginFailuresPerAccount;
      for (let i = 0; i < limit; i++) await a.platform.auth.throttle.fail(account, `10.0.0.${i}`);
      expect(await a.platform.auth.throttle.accountBlocked(account)).toBe(true);
      expect(await sameDeployment.platform.auth.throttle.accountBlocked(account)).toBe(true);
      expect(await other.platform.auth.throttle.accountBlocked(account)).toBe(false);
      expect((await raw.keys(`${p1}signin:*`)).length).toBeGreaterThan(0);
      expect(await raw.keys(`${p2}*`)).toEqual([]);
    } finally {
      await a.dispose();
      await sameDeployment.dispose();
      await other.dispose();
    }
  });
});

/** A TCP proxy in front of Redis that the test can cut, as a Redis outage would. */
async function redisProxy(): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  let down = false;
  const server: Server = createServer((client) => {
    if (down) return client.destroy();
    const upstream = createConnection(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe.runIf(REDIS_URL)('failure policy: security limits fail closed when Redis cannot answer', () => {
  let cp: TestCarapace;
  let proxy: Awaited<ReturnType<typeof redisProxy>>;
  beforeAll(async () => {
    proxy = await redisProxy();
    cp = await startTestCarapace({
      database: 'sqlite',
      overrides: { seedDemo: true, redis: { url: proxy.url, keyPrefix: uniquePrefix(), commandTimeoutMs: 500 } },
    });
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
    await proxy?.close();
  });

  it(
    'refuses DPoP-bound requests and sign-in with 503 ERR_CLUSTER_UNAVAILABLE, audits it, and keeps counting ' +
      'telemetry locally',
    async () => {
      const alice = await CarapaceClient.create({
        baseUrl: cp.config.publicBaseUrl,
        ca: cp.ca,
        clientId: 'carapace-owner-app',
        redirectUri: 'http://127.0.0.1/callback',
      });
      await alice.login({
        email: 'alice@example.com',
        password: 'demo-alice-password',
        totp: () => currentTotp('JBSWY3DPEHPK3PXPALICE234', new Date()),
        scopes: ['openid', 'vehicle:read_status'],
      });
      expect((await alice.api('GET', '/v1/vehicles')).status).toBe(200);

      proxy.cut();
      const started = Date.now();
      const refused = await alice.api('GET', '/v1/vehicles');
      // A dead Redis answers at once (no offline queue) or within the 1 s command timeout, never hangs the request
      // (a bound far above the timeout, so a loaded machine cannot flake it, and far below a hang).
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(refused.status).toBe(503);
      expect(refused.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(refused.json).toMatchObject({ code: 'ERR_CLUSTER_UNAVAILABLE', status: 503 });

      // Sign-in: the throttle cannot be checked, so the password is not even tried.
      const bob = await CarapaceClient.create({
        baseUrl: cp.config.publicBaseUrl,
        ca: cp.ca,
        clientId: 'carapace-owner-app',
        redirectUri: 'http://127.0.0.1/callback',
      });
      await expect(
        bob.login({ email: 'bob@example.com', password: 'demo-bob-password', scopes: ['openid'] }),
      ).rejects.toThrow(/503|ERR_CLUSTER_UNAVAILABLE/);

      // The named exception: telemetry rate counting continues in this process, and still limits.
      const counted = await cp.platform.cluster.countWindow('telemetry:rate:probe', 1, 60, Date.now(), {
        exception: 'telemetry-rate',
      });
      expect(counted.count).toBe(1);
      await expect(cp.platform.cluster.countWindow('cmdlimit:probe', 1, 60, Date.now())).rejects.toMatchObject({
        code: 'ERR_CLUSTER_UNAVAILABLE',
      });

      expect(
        await eventually(
          async () =>
            (await cp.platform.audit.list({ type: 'cluster.coordination.unavailable', limit: 50 })).some(
              (e) => e.decision === 'deny',
            ),
          2000,
        ),
      ).toBe(true);
    },
  );
});

describe.each(REDIS_URL ? testEngines() : [])('fan-out messages cannot change security state (%s)', (database) => {
  const keyPrefix = uniquePrefix();
  let a: TestCarapace;
  let b: RunningCarapace;
  let raw: Redis;

  /** A GET by the device over real mTLS to node B's gateway, on a fresh connection. */
  const onB = (device: GatewayClient) => {
    const { key, issued } = device.credentials!;
    return httpsRequest(`${b.addresses.gateway}/v1/devices/${issued.deviceId}`, {
      ca: a.ca,
      cert: issued.certificate,
      key: key.privateKeyPem,
      agent: new https.Agent({ keepAlive: false }),
    });
  };
  const forge = async (channel: string, ...messages: unknown[]) => {
    for (const m of messages)
      await raw.publish(`${keyPrefix}${channel}`, typeof m === 'string' ? m : JSON.stringify(m));
  };
  const serialOf = (device: GatewayClient) => {
    const pem = device.credentials!.issued.certificate;
    return new X509Certificate(pem).serialNumber.toUpperCase();
  };

  beforeAll(async () => {
    raw = new Redis(REDIS_URL, { lazyConnect: true });
    await raw.connect();
    // Reloads and dispatch polls a minute apart: whatever changes within the test came through Redis.
    a = await startTestCarapace({
      database,
      overrides: {
        seedDemo: true,
        redis: { url: REDIS_URL, keyPrefix },
        pki: { revocationPollInterval: 60 },
        commands: { dispatchInterval: 60 },
      },
    });
    const [pub, gw, adm] = [await freePort(), await freePort(), await freePort()];
    const config = loadConfig({
      overrides: {
        ...a.config,
        seedDemo: false,
        listeners: {
          public: { host: '127.0.0.1', port: pub },
          gateway: { host: '127.0.0.1', port: gw },
          admin: { host: '127.0.0.1', port: adm },
        },
      },
    });
    b = await startCarapace(config, { log: createLogger('silent') });
  }, 120_000);
  afterAll(async () => {
    raw?.disconnect();
    await b?.close();
    await a?.stop();
  });

  it('a forged "device-status: active" does not release a quarantined device; a genuine change still propagates', async () => {
    const device = await a.enrolledDevice('TCU-CL-Q');
    const deviceId = device.credentials!.issued.deviceId;
    expect((await onB(device)).status).toBe(200);
    // Genuine: quarantined on node A, refused on node B within moments (Redis, not the minute-long reload).
    await a.platform.pki.changeDeviceStatus({
      deviceId,
      to: 'quarantined',
      reason: 'test',
      actor: { type: 'operator', id: 'test' },
      context: null,
    });
    expect(await eventually(async () => (await onB(device)).status === 403)).toBe(true);

    // Forged: the names-only shape, one with a state added, and the old state-carrying shape, repeated.
    for (let i = 0; i < 5; i++)
      await forge(
        'pki:credential-changes',
        { v: 1, serials: [], deviceIds: [deviceId] },
        { v: 1, serials: [], deviceIds: [deviceId], status: 'active' },
        // Last, so nothing after it could mask it: the message that released the device before this fix.
        { kind: 'device-status', deviceId, status: 'active' },
      );
    await sleep(300);
    for (let i = 0; i < 5; i++) {
      const res = await onB(device);
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ code: 'ERR_DEVICE_NOT_ACTIVE' });
      await sleep(50);
    }
    expect(b.platform.pki.ctx.cache.blockedDevice(deviceId)).toBe('quarantined');
    device.close();
  });

  it('a forged message neither un-revokes a revoked certificate nor revokes a good one', async () => {
    const revokedDevice = await a.enrolledDevice('TCU-CL-R');
    const good = await a.enrolledDevice('TCU-CL-G');
    await a.platform.pki.revokeDevice({
      deviceId: revokedDevice.credentials!.issued.deviceId,
      reason: 'keyCompromise',
      actor: { type: 'operator', id: 'test' },
      context: null,
    });
    expect(await eventually(async () => (await onB(revokedDevice)).status === 401)).toBe(true);
    const revokedSerial = serialOf(revokedDevice);
    const goodSerial = serialOf(good);
    const goodId = good.credentials!.issued.deviceId;
    for (let i = 0; i < 3; i++)
      await forge(
        'pki:credential-changes',
        { v: 1, serials: [revokedSerial, goodSerial], deviceIds: [goodId, revokedDevice.credentials!.issued.deviceId] },
        'not json',
        { kind: 'device-status', deviceId: revokedDevice.credentials!.issued.deviceId, status: 'active' },
        { kind: 'overlap-started', serial: revokedSerial, until: new Date(Date.now() + 3600_000).toISOString() },
        { kind: 'certificates-revoked', serials: [goodSerial], deviceIds: [goodId] },
        { kind: 'device-status', deviceId: goodId, status: 'quarantined' },
      );
    await sleep(300);
    expect((await onB(revokedDevice)).json).toMatchObject({ code: 'ERR_CLIENT_CERT_REVOKED' });
    expect((await onB(good)).status).toBe(200);
    expect(b.platform.pki.ctx.cache.certificate(goodSerial)).toEqual({ state: 'ok' });
    expect(b.platform.pki.ctx.cache.certificate(revokedSerial)).toEqual({ state: 'revoked' });
    revokedDevice.close();
    good.close();
  });

  it('a forged job-routing message delivers nothing; a genuine job on node A still reaches the channel on node B', async () => {
    const dir = join(a.config.dataDir, 'factory', 'TCU-DEMO-0001');
    const device = new GatewayClient({ gatewayUrl: b.addresses.gateway, ca: a.ca });
    const { issued } = await device.enroll({
      cert: readFileSync(join(dir, 'factory-cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'factory-key.pem'), 'utf8'),
    });
    const events: ChannelEvent[] = [];
    const model = new VehicleModel();
    const channel = new CommandChannel({
      answered: new MemoryAnswerStore(),
      gateway: device,
      verifier: new EnvelopeVerifier({
        counters: new MemoryCounterStore(),
        keys: issued.commandVerificationKeys.keys,
        vehicleId: issued.vehicleId,
        deviceId: issued.deviceId,
        trustAnchor: a.ca,
      }),
      execute: (c) => model.execute(c.command, c.params),
      onEvent: (e) => events.push(e),
      reconnect: false,
    });
    await channel.connect();
    try {
      expect(b.platform.commands.dispatcher.connected(issued.vehicleId)).toBe(true);
      const fakeJob = {
        id: randomUUID(),
        vehicle_id: issued.vehicleId,
        device_id: issued.deviceId,
        command: 'unlock',
        state: 'queued',
      };
      await forge(
        'commands:dispatch',
        issued.vehicleId,
        { v: 1, vehicleId: issued.vehicleId, job: fakeJob },
        { v: 1, vehicleId: issued.vehicleId, envelope: { signed: '{"command":"unlock"}', sig: 'AAAA' } },
        { type: 'command', envelope: { signed: '{"command":"unlock"}', sig: 'AAAA' } },
        { v: 1, vehicleId: issued.vehicleId },
      );
      await sleep(500);
      // The key-set update every channel gets on connect is the gateway's own; nothing forged reached the car.
      expect(events.filter((e) => e.kind === 'executed' || e.kind === 'refused')).toEqual([]);
      expect(events.filter((e) => e.kind === 'keys').every((e) => e.kind === 'keys' && e.ok)).toBe(true);
      const jobs = await a.platform.storage.db
        .selectFrom('command_jobs')
        .select(['id'])
        .where('vehicle_id', '=', issued.vehicleId)
        .execute();
      expect(jobs).toEqual([]);

      const alice = await CarapaceClient.create({
        baseUrl: a.config.publicBaseUrl,
        ca: a.ca,
        clientId: 'carapace-owner-app',
        redirectUri: 'http://127.0.0.1/callback',
      });
      await alice.login({
        email: 'alice@example.com',
        password: 'demo-alice-password',
        totp: () => currentTotp('JBSWY3DPEHPK3PXPALICE234', new Date()),
        scopes: ['openid', 'vehicle:read_status', 'vehicle:lock'],
      });
      const res = await alice.api(
        'POST',
        `/v1/vehicles/${issued.vehicleId}/commands`,
        { command: 'lock' },
        { 'idempotency-key': `cluster-${randomUUID()}` },
      );
      expect(res.status).toBe(202);
      expect(await eventually(async () => events.some((e) => e.kind === 'executed'))).toBe(true);
      // `eventually` gives up well inside the minute-long dispatch poll: the routing message carried it.
      expect(events.filter((e) => e.kind === 'executed')).toMatchObject([{ command: 'lock' }]);
    } finally {
      channel.close();
      device.close();
    }
  });
});
