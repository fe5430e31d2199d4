import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CarapaceClient } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { readScenario } from '../src/server/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import {
  CommandChannel,
  MemoryAnswerStore,
  MemoryCounterStore,
  EnvelopeVerifier,
  GatewayClient,
  MemorySequenceStore,
  TelemetrySigner,
  VehicleModel,
  type SignedEnvelope,
} from '../src/vehicle-sdk/index.js';

const scenario = readScenario('scenarios/demo.yaml');

/** Polls a job until it is final (never a wall-clock assertion: bounded attempts). */
async function settle(c: CarapaceClient, vehicleId: string, jobId: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const r = await c.api('GET', `/v1/vehicles/${vehicleId}/commands/${jobId}`);
    const job = r.json as { final: boolean };
    if (job.final) return job;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error('job never settled');
}

describe.each(testEngines())('remote commands end to end (demo, %s)', (database) => {
  let cp: TestCarapace;
  let alice: CarapaceClient;
  let device: GatewayClient;
  let channel: CommandChannel;
  let model: VehicleModel;
  let signer: TelemetrySigner;
  let carId = '';
  const captured: SignedEnvelope[] = [];

  const login = async (key: string, scopes: string[]) => {
    const u = scenario.users.find((x) => x.key === key)!;
    const c = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await c.login({
      email: u.email,
      password: u.password,
      scopes,
      ...(u.totp ? { totp: () => currentTotp(u.totp!, new Date()) } : {}),
    });
    return c;
  };
  const streamState = async () => {
    await device.sendTelemetry(await Promise.all(model.telemetry().map((p) => signer.sign(p))));
  };

  beforeAll(async () => {
    cp = await startTestCarapace({ database, overrides: { seedDemo: true } });
    const rows = await cp.platform.storage.db.selectFrom('vehicles').select(['id', 'vin']).execute();
    carId = rows.find((r) => r.vin === '5YJ3E1EA7KF000001')!.id;
    const dir = join(cp.config.dataDir, 'factory', 'TCU-DEMO-0001');
    device = new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca });
    const { issued, key } = await device.enroll({
      cert: readFileSync(join(dir, 'factory-cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'factory-key.pem'), 'utf8'),
    });
    expect(issued.commandVerificationKeys.keys.length).toBe(2);
    model = new VehicleModel();
    signer = new TelemetrySigner({
      identity: { deviceId: issued.deviceId, vehicleId: issued.vehicleId, swVersion: '1', configId: 'c' },
      privateKeyPem: key.privateKeyPem,
      sequences: new MemorySequenceStore(),
    });
    await streamState();
    // The vehicle trusts the keys because their certificates chain to the root CA it already pins.
    const verifier = new EnvelopeVerifier({
      counters: new MemoryCounterStore(),
      keys: issued.commandVerificationKeys.keys,
      vehicleId: issued.vehicleId,
      deviceId: issued.deviceId,
      trustAnchor: cp.ca,
    });
    expect(verifier.kids()).toHaveLength(2);
    const original = verifier.verify.bind(verifier);
    verifier.verify = (env) => {
      captured.push(env);
      return original(env);
    };
    channel = new CommandChannel({
      answered: new MemoryAnswerStore(),
      gateway: device,
      verifier,
      execute: (c) => model.execute(c.command, c.params),
      reconnect: false,
    });
    await channel.connect();
    alice = await login('alice', [
      'openid',
      'vehicle:read_status',
      'vehicle:lock',
      'vehicle:unlock',
      'vehicle:climate',
      'vehicle:transfer',
    ]);
  }, 120_000);
  afterAll(async () => {
    channel?.close();
    device?.close();
    await cp?.stop();
  });

  it(
    'owner with MFA unlocks (step-up), the vehicle verifies and acks, the job is confirmed and the chain is ' +
      'audited',
    async () => {
      const res = await alice.api(
        'POST',
        `/v1/vehicles/${carId}/commands`,
        { command: 'unlock' },
        { 'idempotency-key': 'unlock-1' },
      );
      expect(res.status).toBe(202);
      const jobId = (res.json as { id: string }).id;
      const job = await settle(alice, carId, jobId);
      expect(job.state).toBe('confirmed');
      expect((job.transitions as Array<{ to: string }>).map((t) => t.to)).toEqual([
        'requested',
        'authorized',
        'queued',
        'delivered',
        'executed',
        'confirmed',
      ]);
      expect(model.state.locked).toBe(false);
      const events = await cp.platform.audit.list({ objectId: jobId, limit: 50 });
      const requested = events.find((e) => e.type === 'commands.job.requested')!;
      for (const link of [
        'chain_application',
        'chain_user',
        'chain_relationships',
        'chain_roles',
        'chain_scope',
        'chain_command',
        'chain_vehicle_state',
        'chain_policy_version',
        'chain_backend',
      ])
        expect(requested.details[link]).toBeDefined();
      expect(events.filter((e) => e.type === 'commands.job.transitioned').map((e) => e.details.to)).toEqual(
        expect.arrayContaining(['authorized', 'queued', 'delivered', 'executed', 'confirmed']),
      );
      // Same key and body: the same job. Same key, another body: 422.
      const again = await alice.api(
        'POST',
        `/v1/vehicles/${carId}/commands`,
        { command: 'unlock' },
        { 'idempotency-key': 'unlock-1' },
      );
      expect((again.json as { id: string }).id).toBe(jobId);
      const other = await alice.api(
        'POST',
        `/v1/vehicles/${carId}/commands`,
        { command: 'lock' },
        { 'idempotency-key': 'unlock-1' },
      );
      expect(other.status).toBe(422);
    },
  );

  it('a captured envelope replayed, altered, for another vehicle or expired is refused by the vehicle', async () => {
    const env = captured.at(-1)!;
    const { issued } = device.credentials!;
    const fresh = () =>
      new EnvelopeVerifier({
        counters: new MemoryCounterStore(),
        keys: issued.commandVerificationKeys.keys,
        vehicleId: issued.vehicleId,
        deviceId: issued.deviceId,
      });
    const v = fresh();
    expect(v.verify(env).ok).toBe(true);
    expect(v.verify(env)).toMatchObject({ ok: false, code: 'replayed' });
    const altered = { signed: env.signed.replace('"unlock"', '"trunk_open"'), sig: env.sig };
    expect(fresh().verify(altered)).toMatchObject({ ok: false, code: 'bad_signature' });
    const other = new EnvelopeVerifier({
      counters: new MemoryCounterStore(),
      keys: issued.commandVerificationKeys.keys,
      vehicleId: crypto.randomUUID(),
      deviceId: issued.deviceId,
    });
    expect(other.verify(env)).toMatchObject({ ok: false, code: 'wrong_vehicle' });
    const late = new EnvelopeVerifier({
      counters: new MemoryCounterStore(),
      keys: issued.commandVerificationKeys.keys,
      vehicleId: issued.vehicleId,
      deviceId: issued.deviceId,
      now: () => Date.now() + 3600_000,
    });
    expect(late.verify(env)).toMatchObject({ ok: false, code: 'expired' });
    const forgedKey = new EnvelopeVerifier({
      counters: new MemoryCounterStore(),
      keys: [
        {
          kty: 'OKP',
          crv: 'Ed25519',
          x: 'MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE'.slice(0, 43),
          kid: 'evil',
        },
      ],
      vehicleId: issued.vehicleId,
      deviceId: issued.deviceId,
    });
    expect(forgedKey.verify(env)).toMatchObject({ ok: false, code: 'unknown_key' });
  });

  it('command keys count only when their certificate chains to the trusted root with the command-signing EKU', () => {
    const { issued } = device.credentials!;
    const keys = issued.commandVerificationKeys.keys;
    const base = { vehicleId: issued.vehicleId, deviceId: issued.deviceId };
    expect(
      new EnvelopeVerifier({ counters: new MemoryCounterStore(), ...base, keys, trustAnchor: cp.ca }).kids(),
    ).toHaveLength(2);
    // The fleet CA did not certify them; a key without its certificate is not trusted either.
    const fleetCa = cp.platform.pki.ctx.authorities.fleet.pem;
    expect(
      new EnvelopeVerifier({ counters: new MemoryCounterStore(), ...base, keys, trustAnchor: fleetCa }).kids(),
    ).toHaveLength(0);
    expect(
      new EnvelopeVerifier({
        counters: new MemoryCounterStore(),
        ...base,
        keys: keys.map(({ x5c: _drop, ...k }) => k),
        trustAnchor: cp.ca,
      }).kids(),
    ).toHaveLength(0);
    // A certificate for one key pasted onto another key does not carry over.
    const swapped = [{ ...keys[0], x5c: keys[1]?.x5c }];
    expect(
      new EnvelopeVerifier({ counters: new MemoryCounterStore(), ...base, keys: swapped, trustAnchor: cp.ca }).kids(),
    ).toHaveLength(0);
  });

  it('100 concurrent requests with one Idempotency-Key make one job', async () => {
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        alice.api(
          'POST',
          `/v1/vehicles/${carId}/commands`,
          { command: 'climate', params: { on: true, temperatureC: 21 } },
          { 'idempotency-key': 'climate-burst' },
        ),
      ),
    );
    const ids = new Set(
      results.filter((r) => r.status === 202 || r.status === 200).map((r) => (r.json as { id: string }).id),
    );
    expect(results.every((r) => r.status === 202 || r.status === 200)).toBe(true);
    expect(ids.size).toBe(1);
    const n = await cp.platform.storage.db
      .selectFrom('command_jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('command', '=', 'climate')
      .executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(1);
  });

  it(
    'missing step-up gets the RFC 9470 challenge; physical commands need a key; read-only and partner tokens ' +
      'cannot command',
    async () => {
      const dana = scenario.users.find((x) => x.key === 'dana')!;
      const d = await CarapaceClient.create({
        baseUrl: cp.config.publicBaseUrl,
        ca: cp.ca,
        clientId: 'carapace-owner-app',
        redirectUri: 'http://127.0.0.1/callback',
      });
      await d.login({
        email: dana.email,
        password: dana.password,
        scopes: ['openid', 'vehicle:read_status', 'vehicle:unlock', 'vehicle:lock'],
      });
      const r = await d.api(
        'POST',
        `/v1/vehicles/${carId}/commands`,
        { command: 'unlock' },
        { 'idempotency-key': 'dana-1' },
      );
      expect(r.status).toBe(401);
      expect(String(r.headers['www-authenticate'])).toContain('error="insufficient_user_authentication"');
      expect(String(r.headers['www-authenticate'])).toContain('max_age=300');
      const noScope = await alice.api(
        'POST',
        `/v1/vehicles/${carId}/commands`,
        { command: 'charge_start' },
        { 'idempotency-key': 'no-scope' },
      );
      expect(noScope.json).toMatchObject({ code: 'ERR_FORBIDDEN', reason: 'missing_scope' });
      const unknownField = await alice.api(
        'POST',
        `/v1/vehicles/${carId}/commands`,
        { command: 'lock', vehicleId: carId },
        { 'idempotency-key': 'mass-assign' },
      );
      expect(unknownField.status).toBe(400);
      const badParams = await alice.api(
        'POST',
        `/v1/vehicles/${carId}/commands`,
        { command: 'climate', params: { on: true, temperatureC: 99 } },
        { 'idempotency-key': 'bad-params' },
      );
      expect(badParams.json).toMatchObject({ code: 'ERR_VALIDATION', field: 'body.params' });
      const noKey = await alice.api('POST', `/v1/vehicles/${carId}/commands`, { command: 'lock' });
      expect((noKey.json as { code: string }).code).toBe('ERR_IDEMPOTENCY_KEY_REQUIRED');
      const reader = await CarapaceClient.create({
        baseUrl: cp.config.publicBaseUrl,
        ca: cp.ca,
        clientId: 'carapace-owner-app',
        redirectUri: 'http://127.0.0.1/callback',
      });
      const bob = scenario.users.find((x) => x.key === 'bob')!;
      await reader.login({
        email: bob.email,
        password: bob.password,
        totp: () => currentTotp(bob.totp!, new Date()),
        scopes: ['openid', 'vehicle:read_status'],
      });
      const ro = await reader.api(
        'POST',
        `/v1/vehicles/${carId}/commands`,
        { command: 'lock' },
        { 'idempotency-key': 'ro' },
      );
      expect(ro.status).toBe(403);
    },
  );

  it('stale or unsafe vehicle state rejects; a conflicting command is rejected', async () => {
    model.drive(30);
    await streamState();
    const moving = await alice.api(
      'POST',
      `/v1/vehicles/${carId}/commands`,
      { command: 'unlock' },
      { 'idempotency-key': 'unlock-moving' },
    );
    expect(moving.status).toBe(409);
    expect((moving.json as { reason: string }).reason).toBe('vehicle_moving');
    model.drive(0);
    await streamState();
    channel.close();
    const first = await alice.api(
      'POST',
      `/v1/vehicles/${carId}/commands`,
      { command: 'lock' },
      { 'idempotency-key': 'lock-offline' },
    );
    expect(first.status).toBe(202);
    const conflict = await alice.api(
      'POST',
      `/v1/vehicles/${carId}/commands`,
      { command: 'unlock' },
      { 'idempotency-key': 'unlock-conflict' },
    );
    expect((conflict.json as { reason: string }).reason).toBe('conflicting_command_in_flight');
    // Stale: the last speed reading is older than commands.stateMaxAge (120 s), so unknown, so denied.
    await cp.platform.storage.db
      .updateTable('vehicle_state')
      .set({ speed_at: new Date(Date.now() - 10 * 60_000).toISOString() })
      .where('vehicle_id', '=', carId)
      .execute();
    const stale = await alice.api(
      'POST',
      `/v1/vehicles/${carId}/commands`,
      { command: 'horn_lights' },
      { 'idempotency-key': 'horn-stale' },
    );
    expect(stale.json).toMatchObject({ code: 'ERR_COMMAND_REJECTED', reason: 'vehicle_state_unknown' });
  });

  it('a device flooding its channel with bad acknowledgements is cut off after a few audited refusals', async () => {
    const { gatewayUrl, ca, cert, key } = device.tlsIdentity();
    const { token } = await device.commandToken(true);
    const refusedBefore = (await cp.platform.audit.list({ type: 'commands.ack.refused', limit: 500 })).length;
    const socket = new WebSocket(`${gatewayUrl.replace(/^https:/, 'wss:')}/v1/commands/channel`, {
      ca,
      cert,
      key,
      headers: { authorization: `Bearer ${token}` },
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    for (let i = 0; i < 40 && socket.readyState === WebSocket.OPEN; i++)
      socket.send(
        JSON.stringify({ type: 'ack', ack: { signed: `{"jobId":"${'x'.repeat(60)}${i}","v":1}`, sig: 'AA' } }),
      );
    expect(await closed).toBe(1008);
    const refusedAfter = (await cp.platform.audit.list({ type: 'commands.ack.refused', limit: 500 })).length;
    expect(refusedAfter - refusedBefore).toBeLessThanOrEqual(5);
    // The channel is closed at once and the cut-off audited beside it (a flood never waits on a write): wait for it.
    const cutOff = async () => cp.platform.audit.list({ type: 'commands.channel.closed', limit: 5 });
    for (let i = 0; i < 50 && (await cutOff()).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await cutOff()).toMatchObject([{ reason: 'too many refused acknowledgements' }]);
  });

  it('a quarantined device gets no commands', async () => {
    const { issued } = device.credentials!;
    await cp.platform.pki.changeDeviceStatus({
      deviceId: issued.deviceId,
      to: 'quarantined',
      reason: 'test: bad signatures',
      actor: { type: 'system', id: null },
      context: null,
    });
    const res = await alice.api(
      'POST',
      `/v1/vehicles/${carId}/commands`,
      { command: 'climate', params: { on: false } },
      { 'idempotency-key': 'quarantined' },
    );
    expect(res.json).toMatchObject({ code: 'ERR_COMMAND_REJECTED', reason: 'device_quarantined' });
  });

  it('repeated commands hit the sequence limit: 429 with Retry-After, naming the limit', async () => {
    let limited: Awaited<ReturnType<CarapaceClient['api']>> | null = null;
    for (let i = 0; i < 25 && !limited; i++) {
      const r = await alice.api(
        'POST',
        `/v1/vehicles/${carId}/commands`,
        { command: 'climate', params: { on: i % 2 === 0 } },
        { 'idempotency-key': `climate-seq-${i}` },
      );
      if (r.status === 429) limited = r;
    }
    expect(limited).not.toBeNull();
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited!.json).toMatchObject({ code: 'ERR_COMMAND_RATE_LIMITED' });
    expect(String((limited!.json as { reason: string }).reason)).toMatch(/^(sequence:climate|vehicle|user)$/);
  });

  it("a new owner sees the vehicle's jobs from their own ownership on, never the previous owner's", async () => {
    const before = (await alice.api('GET', `/v1/vehicles/${carId}/commands`)).json as { jobs: Array<{ id: string }> };
    expect(before.jobs.length).toBeGreaterThan(0);
    expect((await alice.api('POST', `/v1/vehicles/${carId}/transfer`, { toEmail: 'frank@example.com' })).status).toBe(
      200,
    );
    // Frank signs in with a password only (other tests here already used this step's TOTP codes).
    const bob = await login('frank', ['openid', 'vehicle:read_status']);
    expect(((await bob.api('GET', `/v1/vehicles/${carId}/commands`)).json as { jobs: unknown[] }).jobs).toEqual([]);
    expect((await bob.api('GET', `/v1/vehicles/${carId}/commands/${before.jobs[0]!.id}`)).status).toBe(404);
  });
});
