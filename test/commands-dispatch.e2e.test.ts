import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JWK } from 'jose';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient, ServiceSession } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { readScenario } from '../src/server/index.js';
import { FixedClock } from '../src/platform/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import {
  type AckClaims,
  CommandChannel,
  MemoryAnswerStore,
  MemoryCounterStore,
  EnvelopeVerifier,
  GatewayClient,
  paramsHash,
  parseCanonicalForTests,
  signAck,
} from './commands-support.js';

const scenario = readScenario('scenarios/demo.yaml');

describe.each(testEngines())('command dispatch, expiry and the all-or-nothing fleet route (%s)', (database) => {
  let cp: TestCarapace;
  const clock = new FixedClock(Date.now());
  const people = new Map<string, CarapaceClient>();
  const vehicles = new Map<string, string>();
  let device: GatewayClient;

  const as = (key: string) => people.get(key) as CarapaceClient;
  const login = async (key: string, clientId: string, scopes: string[]) => {
    const u = scenario.users.find((x) => x.key === key)!;
    const c = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId,
      redirectUri: 'http://127.0.0.1/callback',
    });
    await c.login({
      email: u.email,
      password: u.password,
      scopes,
      ...(u.totp ? { totp: () => currentTotp(u.totp!, clock.now()) } : {}),
    });
    people.set(key, c);
  };
  const job = async (jobId: string, vehicle = 'alice-car') =>
    (await as('alice').api('GET', `/v1/vehicles/${vehicles.get(vehicle)}/commands/${jobId}`)).json as {
      state: string;
      reason: string;
      retry: string | null;
      final: boolean;
    };
  const until = async (jobId: string, done: (j: { state: string; final: boolean }) => boolean) => {
    for (let i = 0; i < 300; i++) {
      const j = await job(jobId);
      if (done(j)) return j;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('job never reached the state');
  };
  const post = (who: string, vehicle: string, body: unknown, key: string) =>
    as(who).api('POST', `/v1/vehicles/${vehicles.get(vehicle)}/commands`, body, { 'idempotency-key': key });

  beforeAll(async () => {
    cp = await startTestCarapace({ database, clock, overrides: { seedDemo: true } });
    for (const v of await cp.platform.storage.db.selectFrom('vehicles').select(['id', 'vin']).execute()) {
      const key = scenario.vehicles?.find((s) => s.vin === v.vin)?.key;
      if (key) vehicles.set(key, v.id);
    }
    const owner = [
      'openid',
      'vehicle:read_status',
      'vehicle:lock',
      'vehicle:unlock',
      'vehicle:climate',
      'vehicle:manage_drivers',
      'vehicle:transfer',
    ];
    await login('alice', 'carapace-owner-app', owner);
    await login('carl', 'carapace-owner-app', ['openid', 'vehicle:read_status', 'vehicle:lock']);
    await login('fiona', 'carapace-fleet-console', ['openid', 'fleet:read', 'fleet:command', 'vehicle:read_status']);
    await login('sean', 'carapace-security-console', ['openid', 'vehicle:read_status', 'security:admin']);
    await login('derek', 'carapace-dealer-tool', ['openid', 'vehicle:read_status', 'vehicle:diagnostics']);
    await login('sam', 'carapace-owner-app', ['openid', 'vehicle:read_status', 'vehicle:lock']);
    const dir = join(cp.config.dataDir, 'factory', 'TCU-DEMO-0001');
    device = new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca });
    await device.enroll({
      cert: readFileSync(join(dir, 'factory-cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'factory-key.pem'), 'utf8'),
    });
  }, 120_000);
  afterAll(async () => {
    device?.close();
    await cp?.stop();
  });

  it('an offline vehicle: the job waits, then expires at its TTL, safe to retry since it never left', async () => {
    const res = await post('alice', 'alice-car', { command: 'lock' }, 'offline-lock');
    expect(res.status).toBe(202);
    const id = (res.json as { id: string }).id;
    expect((await job(id)).state).toBe('queued');
    clock.advance(31_000);
    const j = await until(id, (x) => x.final);
    expect(j).toMatchObject({ state: 'expired', retry: 'safe' });
  });

  it('a delegation that ends between request and dispatch is rejected at dispatch', async () => {
    const validUntil = new Date(clock.now().getTime() + 20_000).toISOString();
    const inv = (
      await as('alice').api('POST', `/v1/vehicles/${vehicles.get('alice-car')}/delegations`, {
        email: 'carl@contoso.example',
        commands: ['lock'],
        validUntil,
      })
    ).json as { invite: { id: string }; code: string };
    expect(
      (await as('carl').api('POST', `/v1/delegation-invites/${inv.invite.id}/accept`, { code: inv.code })).status,
    ).toBe(201);
    const res = await post('carl', 'alice-car', { command: 'lock' }, 'carl-lock');
    expect(res.status).toBe(202);
    const id = (res.json as { id: string }).id;
    clock.advance(21_000);
    const channel = new CommandChannel({
      answered: new MemoryAnswerStore(),
      gateway: device,
      verifier: new EnvelopeVerifier({
        counters: new MemoryCounterStore(),
        keys: device.credentials!.issued.commandVerificationKeys.keys,
        vehicleId: device.credentials!.issued.vehicleId,
        deviceId: device.credentials!.issued.deviceId,
        now: () => clock.now().getTime(),
      }),
      execute: () => ({ result: 'executed', code: null }),
      reconnect: false,
    });
    await channel.connect();
    const j = await until(id, (x) => x.final);
    channel.close();
    expect(j).toMatchObject({ state: 'rejected', reason: 'authorization_ended_before_dispatch', retry: 'safe' });
  });

  it('an acknowledgement not signed by the device key is refused; the real one confirms', async () => {
    const res = await post('alice', 'alice-car', { command: 'lock' }, 'ack-check');
    const id = (res.json as { id: string }).id;
    const { ca, cert, key, gatewayUrl } = device.tlsIdentity();
    const { token } = await device.commandToken(true);
    const ws = new WebSocket(`${gatewayUrl.replace('https:', 'wss:')}/v1/commands/channel`, {
      ca,
      cert,
      key,
      headers: { authorization: `Bearer ${token}` },
    });
    const envelope = await new Promise<{ signed: string; sig: string }>((resolve, reject) => {
      ws.on('message', (d) => {
        const m = JSON.parse(String(d)) as { type: string; envelope: { signed: string; sig: string } };
        if (m.type === 'command') resolve(m.envelope);
      });
      ws.on('error', reject);
    });
    const claims = parseCanonicalForTests(envelope.signed);
    const { issued, key: deviceKey } = device.credentials!;
    const ack: AckClaims = {
      v: 1,
      jobId: id,
      vehicleId: issued.vehicleId,
      deviceId: issued.deviceId,
      envelopeHash: claims.hash,
      counter: claims.counter,
      result: 'executed',
      code: null,
      at: clock.now().getTime(),
    };
    const { generateDeviceKey } = await import('../src/vehicle-sdk/index.js');
    ws.send(JSON.stringify({ type: 'ack', ack: signAck(ack, (await generateDeviceKey()).privateKeyPem) }));
    ws.send(
      JSON.stringify({ type: 'ack', ack: signAck({ ...ack, envelopeHash: 'x'.repeat(43) }, deviceKey.privateKeyPem) }),
    );
    for (
      let i = 0;
      i < 100 && (await cp.platform.audit.list({ type: 'commands.ack.refused', objectId: id, limit: 10 })).length < 2;
      i++
    )
      await new Promise((r) => setTimeout(r, 50));
    const refusals = await cp.platform.audit.list({ type: 'commands.ack.refused', objectId: id, limit: 10 });
    expect(refusals.map((e) => e.reason).sort()).toEqual(['bad_signature', 'envelope_mismatch']);
    expect((await job(id)).state).toBe('delivered');
    ws.send(JSON.stringify({ type: 'ack', ack: signAck(ack, deviceKey.privateKeyPem) }));
    expect((await until(id, (x) => x.final)).state).toBe('confirmed');
    ws.close();
  });

  it('a bulk list mixing tenants gets 422 without disclosure, and nothing is queued', async () => {
    const fleet = (
      await cp.platform.storage.db
        .selectFrom('tenants')
        .select(['id'])
        .where('name', 'like', 'Northwind%')
        .executeTakeFirstOrThrow()
    ).id;
    const send = (ids: string[]) =>
      as('fiona').api(
        'POST',
        `/v1/fleets/${fleet}/commands`,
        { command: 'lock', vehicleIds: ids },
        { 'idempotency-key': crypto.randomUUID() },
      );
    const before = await cp.platform.storage.db
      .selectFrom('command_jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    const foreign = await send([vehicles.get('northwind-van-1')!, vehicles.get('contoso-van-1')!]);
    const missing = await send([vehicles.get('northwind-van-1')!, crypto.randomUUID()]);
    expect(foreign.status).toBe(422);
    const strip = (r: { json: unknown }) => ({ ...(r.json as object), instance: undefined });
    expect(strip(foreign)).toEqual(strip(missing));
    expect(JSON.stringify(foreign.json)).not.toContain(vehicles.get('contoso-van-1')!);
    const after = await cp.platform.storage.db
      .selectFrom('command_jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
    const body = { command: 'lock', vehicleIds: [vehicles.get('northwind-van-1')!, vehicles.get('northwind-van-2')!] };
    const own = await as('fiona').api('POST', `/v1/fleets/${fleet}/commands`, body, {
      'idempotency-key': 'fleet-batch-1',
    });
    expect(own.status).toBe(202);
    expect((own.json as { jobs: unknown[] }).jobs).toHaveLength(2);
    // The same key and body: the same batch; another body: 422; a physical batch without a key: 400.
    const again = await as('fiona').api(
      'POST',
      `/v1/fleets/${fleet}/commands`,
      { ...body, vehicleIds: [...body.vehicleIds].reverse() },
      { 'idempotency-key': 'fleet-batch-1' },
    );
    expect(again.status).toBe(200);
    const sorted = (r: { json: unknown }) => {
      const b = r.json as { batchId: string; jobs: Array<{ id: string }> };
      return { ...b, jobs: [...b.jobs].sort((x, y) => x.id.localeCompare(y.id)) };
    };
    expect(sorted(again)).toEqual(sorted(own));
    const other = await as('fiona').api(
      'POST',
      `/v1/fleets/${fleet}/commands`,
      { ...body, vehicleIds: body.vehicleIds.slice(0, 1) },
      { 'idempotency-key': 'fleet-batch-1' },
    );
    expect(other.status).toBe(422);
    const noKey = await as('fiona').api('POST', `/v1/fleets/${fleet}/commands`, body);
    expect(noKey.json).toMatchObject({ code: 'ERR_IDEMPOTENCY_KEY_REQUIRED' });
  });

  it('immobilize: only a security admin of the operator, only with a recorded reason', async () => {
    const reason = { reason: 'stolen vehicle report SEC-4711, police case 12/345' };
    const owner = await post('alice', 'alice-car', { command: 'immobilize', params: reason }, 'imm-alice');
    expect(owner.status).toBe(403);
    const noReason = await post('sean', 'alice-car', { command: 'immobilize', params: {} }, 'imm-sean-1');
    expect(noReason.status).toBe(404);
    const sean = await post('sean', 'alice-car', { command: 'immobilize', params: reason }, 'imm-sean-2');
    // Authorized; the car's state is unknown (no telemetry), so the job is recorded and rejected: fail closed.
    expect(sean.status).toBe(409);
    expect((sean.json as { reason: string }).reason).toBe('vehicle_state_unknown');
  });

  it('diagnostics_run: the dealer with an open case may, without one may not; a partner never commands', async () => {
    const open = await post('derek', 'bob-car', { command: 'diagnostics_run' }, 'diag-1');
    expect(open.status).toBe(409);
    expect((open.json as { reason: string }).reason).toBe('vehicle_state_unknown');
    const closed = await post('derek', 'alice-car', { command: 'diagnostics_run' }, 'diag-2');
    expect([403, 404]).toContain(closed.status);
    const privateJwk = JSON.parse(
      readFileSync(join(cp.config.dataDir, 'demo', 'chargenet-charging.private.jwk.json'), 'utf8'),
    ) as JWK;
    const partner = await ServiceSession.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'chargenet-charging',
      privateJwk,
      scope: 'vehicle:read_status vehicle:charging',
    });
    const res = await partner.api('POST', `/v1/vehicles/${vehicles.get('bob-car')}/commands`, {
      command: 'charge_start',
    });
    expect(res.status).toBe(403);
  });

  it('a support agent commands only on a just-in-time approval, which one job consumes', async () => {
    const denied = await post('sam', 'alice-car', { command: 'lock' }, 'sam-1');
    expect(denied.status).toBe(403);
    const supportCase = await cp.platform.storage.db
      .selectFrom('support_cases')
      .select(['id'])
      .where('vehicle_id', '=', vehicles.get('alice-car')!)
      .where('status', '=', 'open')
      .executeTakeFirstOrThrow();
    const approval = await as('sean').api('POST', `/v1/support-cases/${supportCase.id}/approvals`, {
      command: 'lock',
      reason: 'customer locked out, ticket 42',
      minutes: 5,
    });
    expect(approval.status).toBe(201);
    const allowed = await post('sam', 'alice-car', { command: 'lock' }, 'sam-2');
    expect(allowed.status).toBe(202);
    const used = await cp.platform.storage.db
      .selectFrom('jit_approvals')
      .select(['used_at'])
      .where(
        'agent_id',
        '=',
        (
          await cp.platform.storage.db
            .selectFrom('users')
            .select(['id'])
            .where('email', '=', 'sam@carapace.example')
            .executeTakeFirstOrThrow()
        ).id,
      )
      .execute();
    expect(used.every((u) => u.used_at !== null)).toBe(true);
    const again = await post('sam', 'alice-car', { command: 'lock' }, 'sam-3');
    expect(again.status).toBe(403);
  });

  it('a transfer ends every unfinished job on the vehicle, whoever requested it, in the same transaction', async () => {
    const res = await post('alice', 'alice-car', { command: 'climate', params: { on: true } }, 'before-transfer');
    expect(res.json).toMatchObject({ state: 'queued' });
    const id = (res.json as { id: string }).id;
    expect((await job(id)).state).toBe('queued');
    const open = () =>
      cp.platform.storage.db
        .selectFrom('command_jobs')
        .select(['id', 'requester_id'])
        .where('vehicle_id', '=', vehicles.get('alice-car')!)
        .where('state', 'in', ['requested', 'authorized', 'queued', 'delivered'])
        .execute();
    const before = await open();
    // The support agent's approved lock is still queued too: it ends with the ownership, not only Alice's.
    expect(new Set(before.map((j) => j.requester_id)).size).toBeGreaterThan(1);
    const t = await as('alice').api('POST', `/v1/vehicles/${vehicles.get('alice-car')}/transfer`, {
      toEmail: 'bob@example.com',
    });
    expect(t.status).toBe(200);
    const row = await cp.platform.storage.db
      .selectFrom('command_jobs')
      .select(['state', 'reason'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row.state).toBe('rejected');
    const transferred = await cp.platform.audit.list({ type: 'relationships.vehicle.transferred', limit: 5 });
    expect(transferred[0]?.details.ended_commandJobs).toBe(before.length);
    expect(await open()).toEqual([]);
  });

  it(
    'key rotation: the pre-published next key signs, and a vehicle that pinned the set at enrollment still ' +
      'verifies',
    async () => {
      const { issued } = device.credentials!;
      const before = issued.commandVerificationKeys.keys.map((k) => k.kid);
      const { current, next } = await cp.platform.commands.keys.rotate('test');
      expect(before).toContain(current);
      expect(before).not.toContain(next);
      const published = (await cp.platform.commands.keys.published()).map((k) => k.kid);
      expect(published.sort()).toEqual([current, next].sort());
      const params = {};
      const { signed, sig, kid } = await cp.platform.commands.keys.signEnvelope({
        v: 1,
        vehicleId: issued.vehicleId,
        deviceId: issued.deviceId,
        jobId: crypto.randomUUID(),
        command: 'lock',
        params,
        paramsHash: paramsHash(params),
        issuedAt: clock.now().getTime(),
        expiresAt: clock.now().getTime() + 30_000,
        counter: 1_000,
        decisionHash: 'x',
      });
      expect(kid).toBe(current);
      const pinned = new EnvelopeVerifier({
        counters: new MemoryCounterStore(),
        keys: issued.commandVerificationKeys.keys,
        vehicleId: issued.vehicleId,
        deviceId: issued.deviceId,
        trustAnchor: cp.ca,
        now: () => clock.now().getTime(),
      });
      expect(pinned.verify({ signed, sig }).ok).toBe(true);
    },
  );
});
