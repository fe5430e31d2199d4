import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../src/client/index.js';
import { loadConfig } from '../src/config/index.js';
import { currentTotp } from '../src/identity/index.js';
import { createLogger } from '../src/platform/index.js';
import { type RunningCarapace, startCarapace } from '../src/server/index.js';
import { freePort, startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import {
  CommandChannel,
  EnvelopeVerifier,
  GatewayClient,
  MemoryAnswerStore,
  MemoryCounterStore,
  VehicleModel,
} from '../src/vehicle-sdk/index.js';

/**
 * Two Carapace processes' worth of platform over one database (and Redis when REDIS_URL is set), as behind
 * a load balancer: the vehicle's channel is on node B, the owner's request lands on node A. The job must
 * still reach the vehicle and be confirmed (Redis pub/sub, or node B's dispatch poll without Redis).
 */
describe.each(testEngines())('commands across two nodes (%s)', (database) => {
  let a: TestCarapace;
  let b: RunningCarapace;
  let device: GatewayClient;
  let channel: CommandChannel;
  const model = new VehicleModel();

  beforeAll(async () => {
    a = await startTestCarapace({
      database,
      overrides: { seedDemo: true, redis: { url: process.env.REDIS_URL ?? null } },
    });
    const [pub, gw, adm] = [await freePort(), await freePort(), await freePort()];
    // Same data directory (keys), database, schema and issuer; other ports.
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
    const dir = join(a.config.dataDir, 'factory', 'TCU-DEMO-0001');
    device = new GatewayClient({ gatewayUrl: b.addresses.gateway, ca: a.ca });
    const { issued } = await device.enroll({
      cert: readFileSync(join(dir, 'factory-cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'factory-key.pem'), 'utf8'),
    });
    channel = new CommandChannel({
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
      reconnect: false,
    });
    await channel.connect();
  }, 120_000);
  afterAll(async () => {
    channel?.close();
    device?.close();
    await b?.close();
    await a?.stop();
  });

  it('a request on node A reaches the channel on node B and is confirmed', async () => {
    expect(b.platform.commands.dispatcher.connected(device.credentials!.issued.vehicleId)).toBe(true);
    expect(a.platform.commands.dispatcher.connected(device.credentials!.issued.vehicleId)).toBe(false);
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
    const carId = device.credentials!.issued.vehicleId;
    const res = await alice.api(
      'POST',
      `/v1/vehicles/${carId}/commands`,
      { command: 'lock' },
      { 'idempotency-key': 'cluster-1' },
    );
    expect(res.status).toBe(202);
    const id = (res.json as { id: string }).id;
    let state = '';
    for (let i = 0; i < 200 && state !== 'confirmed'; i++) {
      state = ((await alice.api('GET', `/v1/vehicles/${carId}/commands/${id}`)).json as { state: string }).state;
      if (state !== 'confirmed') await new Promise((r) => setTimeout(r, 50));
    }
    expect(state).toBe('confirmed');
    const delivered = await a.platform.audit.list({ objectId: id, type: 'commands.job.transitioned', limit: 20 });
    expect(delivered.some((e) => e.details.to === 'delivered')).toBe(true);
  });

  it('a client following the job as server-sent events on node A sees it confirmed on node B, and the stream ends', async () => {
    const alice = await CarapaceClient.create({
      baseUrl: a.config.publicBaseUrl,
      ca: a.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await alice.login({
      email: 'alice@example.com',
      password: 'demo-alice-password',
      totp: () => currentTotp('JBSWY3DPEHPK3PXPALICE234', new Date(Date.now() + 30_000)),
      scopes: ['openid', 'vehicle:read_status', 'vehicle:lock'],
    });
    const carId = device.credentials!.issued.vehicleId;
    const res = await alice.api(
      'POST',
      `/v1/vehicles/${carId}/commands`,
      { command: 'lock' },
      { 'idempotency-key': 'cluster-sse' },
    );
    expect(res.status, res.text).toBe(202);
    const url = `${a.config.publicBaseUrl}/v1/vehicles/${carId}/commands/${(res.json as { id: string }).id}/events`;
    const token = alice.tokens?.accessToken ?? '';
    const proof = await alice.dpop.proof('GET', url, token);
    const states = await new Promise<string[]>((resolve, reject) => {
      https
        .get(url, { ca: a.ca, headers: { authorization: `DPoP ${token}`, dpop: proof } }, (stream) => {
          let text = '';
          stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
          stream.on('end', () =>
            resolve([...text.matchAll(/^data: (.*)$/gm)].map((m) => (JSON.parse(m[1]!) as { state: string }).state)),
          );
        })
        .on('error', reject);
    });
    expect(states.at(-1)).toBe('confirmed');
    expect(new Set(states).size).toBe(states.length);
  });
});
