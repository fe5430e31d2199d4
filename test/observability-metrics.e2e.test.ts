import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { rawRequest, startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { telemetryDevice, wire } from './telemetry-support.js';

/** The value of one sample in Prometheus text, or null when the sample is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (want.every((l) => line.includes(l))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return null;
}

/** The sum of every sample of `name` that carries `labels`. */
function total(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && want.every((l) => line.includes(l)))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe.each(testEngines())('Prometheus metrics on the admin plane (%s)', (database) => {
  let cp: TestCarapace;
  const scrape = async () => {
    const res = await rawRequest(cp.addresses.admin, '/metrics', { ca: cp.ca, ...cp.operatorTls });
    expect(res.status).toBe(200);
    return res.body;
  };

  beforeAll(async () => {
    cp = await startTestCarapace({
      database,
      overrides: { seedDemo: true, detect: { enabled: false }, redis: { url: process.env.REDIS_URL ?? null } },
    });
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
  });

  it('refuses a scrape without the operator certificate, and the public API has no /metrics', async () => {
    const anonymous = await rawRequest(cp.addresses.admin, '/metrics', { ca: cp.ca });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).not.toContain('carapace_http');
    const device = await cp.enrolledDevice('TCU-METRICS-SCRAPE');
    const { key, issued } = device.credentials!;
    // A device certificate is not an operator certificate.
    const wrong = await rawRequest(cp.addresses.admin, '/metrics', {
      ca: cp.ca,
      cert: issued.certificate,
      key: key.privateKeyPem,
    });
    expect(wrong.status).toBe(401);
    device.close();
    const onPublic = await rawRequest(cp.addresses.public, '/metrics', { ca: cp.ca });
    expect(onPublic.status).toBe(404);
    const after = await scrape();
    expect(total(after, 'carapace_http_refusals_total', { listener: 'admin' })).toBeGreaterThanOrEqual(2);
  });

  it('labels requests by route template, never by the raw URL', async () => {
    const probe = 'f0e1d2c3-b4a5-4968-8776-655443322110';
    await rawRequest(cp.addresses.public, `/v1/vehicles/${probe}`, { ca: cp.ca });
    const text = await scrape();
    expect(text).not.toContain(probe);
    const count = sample(text, 'carapace_http_request_duration_seconds_count', {
      listener: 'public',
      route: '/v1/vehicles/:vehicleId',
      method: 'GET',
      status: '401',
    });
    expect(count).toBeGreaterThanOrEqual(1);
  });

  it('counts authorization decisions by outcome', async () => {
    const before = await scrape();
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
    const list = (await alice.api('GET', '/v1/vehicles')).json as { vehicles: Array<{ id: string }> };
    const mine = list.vehicles[0]!.id;
    expect((await alice.api('GET', `/v1/vehicles/${mine}`)).status).toBe(200);
    expect((await alice.api('GET', '/v1/vehicles/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const after = await scrape();
    const delta = (outcome: string) =>
      (sample(after, 'carapace_authorization_decisions_total', { outcome }) ?? 0) -
      (sample(before, 'carapace_authorization_decisions_total', { outcome }) ?? 0);
    expect(delta('allow')).toBeGreaterThanOrEqual(2);
    expect(delta('deny')).toBeGreaterThanOrEqual(1);
  });

  it('counts telemetry verdicts, with the reason of a rejection', async () => {
    const { client, signer } = await telemetryDevice(cp, 'TCU-METRICS-TM');
    const good = await signer.sign({ kind: 'speed', kmh: 42 });
    await client.sendTelemetry([wire(good), wire(good)]);
    const text = await scrape();
    expect(sample(text, 'carapace_telemetry_messages_total', { verdict: 'accepted' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'carapace_telemetry_messages_total', { verdict: 'duplicate' })).toBeGreaterThanOrEqual(1);
    client.close();
  });

  it('publishes health gauges, TLS handshakes, and the samples of a registered collector', async () => {
    cp.platform.observability.metrics.registerCollector(() => [
      { name: 'carapace_governance_probe', help: 'A probe.', labels: { flow: 'a"b' }, value: 3 },
      { name: 'carapace_governance_pending', help: 'No data yet.', value: null },
    ]);
    const text = await scrape();
    expect(sample(text, 'carapace_database_up')).toBe(1);
    if (process.env.REDIS_URL) expect(sample(text, 'carapace_redis_up')).toBe(1);
    expect(sample(text, 'carapace_revocation_view_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'carapace_tls_handshakes_total', { listener: 'admin', outcome: 'ok' })).toBeGreaterThan(0);
    expect(text).toContain('carapace_governance_probe{flow="a\\"b"} 3');
    // "No data yet" is no sample at all, never a made-up zero.
    expect(text).not.toContain('carapace_governance_pending');
    // The inventory's governance numbers are published too (here: the routes each listener's inventory lists).
    expect(sample(text, 'carapace_inventory_routes', { listener: 'public' })).toBeGreaterThan(10);
    expect(sample(text, 'carapace_commands_step_up')).not.toBeNull();
  });
});
