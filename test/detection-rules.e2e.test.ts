import { randomUUID } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { readScenario } from '../src/server/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { type GatewayClient, httpsRequest, signMessage } from '../src/vehicle-sdk/index.js';
import { telemetryDevice, wire } from './telemetry-support.js';

const scenario = readScenario('scenarios/demo.yaml');
const REDIS_URL = process.env.REDIS_URL ?? '';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface FindingBody {
  ruleId: string;
  evidence: string[];
  summary: string;
  assets: Record<string, string[]>;
}

/** Opens the device's command channel with its certificate; resolves with the socket once open or closed. */
async function channel(device: GatewayClient): Promise<WebSocket> {
  const { ca, cert, key, gatewayUrl } = device.tlsIdentity();
  const { token } = await device.commandToken(true);
  const ws = new WebSocket(`${gatewayUrl.replace('https:', 'wss:')}/v1/commands/channel`, {
    ca,
    cert,
    key,
    headers: { authorization: `Bearer ${token}` },
  });
  await new Promise<void>((resolve) => {
    ws.once('open', () => resolve());
    ws.once('close', () => resolve());
    ws.once('error', () => resolve());
  });
  return ws;
}

/** The open findings of a rule on the admin plane, waiting (bounded) for the engine to get there. */
async function openFindings(cp: TestCarapace, rule: string): Promise<FindingBody[]> {
  for (let i = 0; i < 100; i++) {
    const res = await httpsRequest(`${cp.addresses.admin}/admin/v1/findings?rule=${rule}&status=open`, {
      ca: cp.ca,
      cert: cp.operatorTls.cert,
      key: cp.operatorTls.key,
    });
    const list = (res.json as { findings: FindingBody[] }).findings;
    if (list.length > 0) return list;
    await sleep(100);
  }
  return [];
}

// The shipped rules (detections/*.json) against the running engine and the events the platform really writes:
// each attack is staged over HTTPS/TLS and must surface as an open finding of its rule on the admin API.
describe.each(testEngines())('the shipped rules fire on staged attacks (%s)', (database) => {
  let cp: TestCarapace;
  let alice: CarapaceClient;
  const findings = (rule: string) => openFindings(cp, rule);
  const client = () =>
    CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });

  beforeAll(async () => {
    const redis = database === 'postgres' && REDIS_URL ? { url: REDIS_URL, keyPrefix: `rules-${randomUUID()}:` } : {};
    cp = await startTestCarapace({
      database,
      overrides: { seedDemo: true, redis, detect: { interval: 0.1 }, tls: { handshakeFailureInterval: 3600 } },
    });
    const u = scenario.users.find((x) => x.key === 'alice')!;
    alice = await client();
    await alice.login({
      email: u.email,
      password: u.password,
      scopes: ['openid', 'vehicle:read_status', 'vehicle:claim'],
      totp: () => currentTotp(u.totp!, new Date()),
    });
  }, 120_000);
  afterAll(async () => cp?.stop());

  it("cross-tenant access: an owner tries a fleet's vehicle three times", async () => {
    const van = await cp.platform.storage.db
      .selectFrom('vehicles')
      .select('id')
      .where('vin', '=', '1FTBW3XM5HKA00001')
      .executeTakeFirstOrThrow();
    for (let i = 0; i < 3; i++) expect((await alice.api('GET', `/v1/vehicles/${van.id}`)).status).toBe(404);
    const [f] = await findings('cross-tenant-access');
    expect(f?.summary).toMatch(/^3 cross-tenant refusals/);
    expect(f?.assets.clients).toEqual(['carapace-owner-app']);
  });

  it('object probing and VIN enumeration: ten made-up ids, six consecutive VINs', async () => {
    for (let i = 0; i < 10; i++) await alice.api('GET', `/v1/vehicles/${String(i).padStart(26, '0')}`);
    expect((await findings('object-probing'))[0]?.assets.users).toHaveLength(1);
    for (let i = 0; i < 6; i++)
      await alice.api('POST', '/v1/vehicle-claims', {
        vin: `WVWZZZ1JZ3W${String(100 + i).padStart(6, '0')}`,
        code: 'NO',
      });
    expect((await findings('vin-enumeration'))[0]?.summary).toMatch(/consecutive VINs/);
  });

  it('credential stuffing: twelve accounts fail to sign in from one network', async () => {
    for (let i = 0; i < 12; i++)
      await (
        await client()
      )
        .login({ email: `victim${i}@example.com`, password: 'not-the-password', scopes: ['openid'] })
        .catch(() => undefined);
    expect((await findings('credential-stuffing'))[0]?.assets.networks).toEqual(['127.0.0.0/24']);
  });

  it('failed handshakes: sixty peers talk plain HTTP to the gateway', async () => {
    const port = Number(new URL(cp.addresses.gateway).port);
    for (let i = 0; i < 60; i++)
      await new Promise<void>((resolve) => {
        const s = tcpConnect({ host: '127.0.0.1', port }, () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
        s.on('close', () => resolve());
        s.on('error', () => resolve());
      });
    for (let i = 0; i < 500 && cp.listeners.handshakes.pending() < 60; i++) await sleep(10);
    await cp.listeners.handshakes.flush();
    const [f] = await findings('mtls-handshake-failures');
    expect(f?.summary).toMatch(/^60 failed handshakes/);
    expect(f?.assets.networks).toEqual(['127.0.0.0/24']);
  });
});

// The telemetry rules against what a real device sends over mTLS: accepted volume, positions outside the
// operating regions, a sequence jump and the regressions that follow it.
describe.each(testEngines())('the shipped telemetry rules fire on a misbehaving device (%s)', (database) => {
  let cp: TestCarapace;

  beforeAll(async () => {
    const redis = database === 'postgres' && REDIS_URL ? { url: REDIS_URL, keyPrefix: `rules-${randomUUID()}:` } : {};
    cp = await startTestCarapace({
      database,
      overrides: {
        redis,
        detect: {
          interval: 0.1,
          // Small numbers so a test with a few devices reaches them; the rules' logic is the shipped one.
          overrides: { 'telemetry-volume-device': { threshold: 20 }, 'fleet-wide-anomaly': { threshold: 2 } },
        },
        telemetry: { regions: ['DE:47..55.1:5.8..15.1'], volumeSummaryInterval: 3600 },
      },
    });
  }, 120_000);
  afterAll(async () => cp?.stop());

  it('volume, out of region, a jump and then old sequence numbers each raise their finding', async () => {
    const { client, signer } = await telemetryDevice(cp, `TCU-RULES-${database}`);
    const { issued, key } = client.credentials!;
    const speeds = await Promise.all(Array.from({ length: 25 }, (_, i) => signer.sign({ kind: 'speed', kmh: i })));
    expect((await client.sendTelemetry(speeds.map(wire))).accepted).toBe(25);
    await cp.platform.telemetry.volume.flush();
    expect((await openFindings(cp, 'telemetry-volume-device'))[0]?.assets.devices).toEqual([issued.deviceId]);

    for (let i = 0; i < 3; i++)
      await client.sendTelemetry([await signer.sign({ kind: 'position', lat: 41.9 + i / 1000, lon: 12.49 })].map(wire));
    expect((await openFindings(cp, 'telemetry-out-of-region'))[0]?.assets.vehicles).toEqual([issued.vehicleId]);

    const far = signMessage(
      {
        deviceId: issued.deviceId,
        vehicleId: issued.vehicleId,
        bootId: signer.bootId,
        seq: 1_000_000,
        ts: Date.now(),
        swVersion: '4.2.0',
        configId: 'cfg-1',
        payload: { kind: 'speed', kmh: 5 },
      },
      key.privateKeyPem,
    );
    expect((await client.sendTelemetry([wire(far)])).verdicts[0]?.flags).toEqual(['sequence_jump']);
    expect((await openFindings(cp, 'telemetry-sequence-jump'))[0]?.assets.devices).toEqual([issued.deviceId]);

    // The honest counter is now far below the top: its next batches are refused as too old.
    for (let i = 0; i < 3; i++)
      expect((await client.sendTelemetry([wire(await signer.sign({ kind: 'gear', gear: 'P' }))])).rejected).toBe(1);
    expect((await openFindings(cp, 'telemetry-sequence-regression'))[0]?.summary).toMatch(/^3 batches/);
    client.close();
  });

  it('the same anomaly on a second vehicle: the meta-rule names both vehicles', async () => {
    // The first vehicle's out-of-region finding is open from the test above; a second one goes abroad too.
    const first = (await openFindings(cp, 'telemetry-out-of-region'))[0]!.assets.vehicles![0]!;
    const { client, signer } = await telemetryDevice(cp, `TCU-ABROAD-${database}`);
    for (let i = 0; i < 3; i++)
      await client.sendTelemetry([await signer.sign({ kind: 'position', lat: 40.4 + i / 1000, lon: -3.7 })].map(wire));
    const second = client.credentials!.issued.vehicleId;
    const [f] = await openFindings(cp, 'fleet-wide-anomaly');
    expect(f?.summary).toMatch(/telemetry-out-of-region found 2 vehicles/);
    // The engine names the assets of the event that fired (the second vehicle's finding); the evidence holds both.
    expect(f?.assets.vehicles).toContain(second);
    expect(first).not.toBe(second);
    expect(f?.evidence).toHaveLength(2);
    client.close();
  });

  it('one certificate on two command channels at once is critical', async () => {
    const { client } = await telemetryDevice(cp, `TCU-CLONE-${database}`);
    const first = await channel(client);
    const second = await channel(client);
    const [f] = await openFindings(cp, 'certificate-two-connections');
    expect(f?.assets.serials).toEqual([client.credentials!.issued.serial]);
    expect(f?.assets.networks).toEqual(['127.0.0.0/24']);
    first.close();
    second.close();
    client.close();
  });
});
