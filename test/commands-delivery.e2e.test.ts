import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { readScenario } from '../src/server/index.js';
import { FixedClock } from '../src/platform/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import {
  CommandChannel,
  EnvelopeVerifier,
  GatewayClient,
  parseCanonicalForTests,
  signAck,
} from './commands-support.js';

const scenario = readScenario('scenarios/demo.yaml');
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A vehicle's command channel driven by hand: envelopes are collected, acks are sent only when the test says. */
async function rawChannel(device: GatewayClient) {
  const { ca, cert, key, gatewayUrl } = device.tlsIdentity();
  const { token } = await device.commandToken(true);
  const ws = new WebSocket(`${gatewayUrl.replace('https:', 'wss:')}/v1/commands/channel`, {
    ca,
    cert,
    key,
    headers: { authorization: `Bearer ${token}` },
  });
  const envelopes: Array<{ signed: string; sig: string; jobId: string }> = [];
  ws.on('message', (d) => {
    const m = JSON.parse(String(d)) as { type: string; envelope: { signed: string; sig: string } };
    if (m.type === 'command')
      envelopes.push({ ...m.envelope, jobId: (JSON.parse(m.envelope.signed) as { jobId: string }).jobId });
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    envelopes,
    async envelopeOf(jobId: string) {
      for (let i = 0; i < 200; i++) {
        const e = envelopes.find((x) => x.jobId === jobId);
        if (e) return e;
        await wait(25);
      }
      throw new Error(`no envelope for job ${jobId}`);
    },
    /** Signs and sends an ack for `envelope` with this channel's device (or `signer`'s) key and ids. */
    ack(envelope: { signed: string; jobId: string }, at: number, signer: GatewayClient = device) {
      const { issued, key: deviceKey } = signer.credentials!;
      const { counter, hash } = parseCanonicalForTests(envelope.signed);
      const claims = {
        v: 1 as const,
        jobId: envelope.jobId,
        vehicleId: issued.vehicleId,
        deviceId: issued.deviceId,
        envelopeHash: hash,
        counter,
        result: 'executed' as const,
        code: null,
        at,
      };
      ws.send(JSON.stringify({ type: 'ack', ack: signAck(claims, deviceKey.privateKeyPem) }));
    },
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      const closed = new Promise((r) => ws.once('close', r));
      ws.close();
      await closed;
    },
  };
}

describe.each(testEngines())('every delivery and every acknowledgement is checked again (%s)', (database) => {
  let cp: TestCarapace;
  const clock = new FixedClock(Date.now());
  const people = new Map<string, CarapaceClient>();
  const vehicles = new Map<string, string>();
  let device: GatewayClient;

  const as = (key: string) => people.get(key) as CarapaceClient;
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
      ...(u.totp ? { totp: () => currentTotp(u.totp!, clock.now()) } : {}),
    });
    people.set(key, c);
  };
  const row = (id: string) =>
    cp.platform.storage.db
      .selectFrom('command_jobs')
      .select(['state', 'reason', 'retry'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
  const until = async (id: string, done: (j: { state: string }) => boolean) => {
    for (let i = 0; i < 200; i++) {
      const j = await row(id);
      if (done(j)) return j;
      await wait(25);
    }
    return row(id);
  };
  const auditOf = async (type: string, objectId: string, n = 1) => {
    for (let i = 0; i < 200; i++) {
      const events = await cp.platform.audit.list({ type, objectId, limit: 10 });
      if (events.length >= n) return events;
      await wait(25);
    }
    return cp.platform.audit.list({ type, objectId, limit: 10 });
  };
  const lock = async (who: string, key: string) => {
    const res = await as(who).api(
      'POST',
      `/v1/vehicles/${vehicles.get('alice-car')}/commands`,
      { command: 'lock' },
      { 'idempotency-key': key },
    );
    expect(res.status).toBe(202);
    return (res.json as { id: string }).id;
  };
  const enroll = async (serial: string) => {
    const dir = join(cp.config.dataDir, 'factory', serial);
    const d = new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca });
    await d.enroll({
      cert: readFileSync(join(dir, 'factory-cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'factory-key.pem'), 'utf8'),
    });
    return d;
  };

  beforeAll(async () => {
    // The expiry sweep runs only once a minute here, so what the tests see is the acknowledgement path's own check.
    cp = await startTestCarapace({
      database,
      clock,
      overrides: { seedDemo: true, commands: { dispatchInterval: 60 } },
    });
    for (const v of await cp.platform.storage.db.selectFrom('vehicles').select(['id', 'vin']).execute()) {
      const key = scenario.vehicles?.find((s) => s.vin === v.vin)?.key;
      if (key) vehicles.set(key, v.id);
    }
    await login('alice', [
      'openid',
      'vehicle:read_status',
      'vehicle:lock',
      'vehicle:charging',
      'vehicle:manage_drivers',
      'vehicle:transfer',
    ]);
    await login('carl', ['openid', 'vehicle:read_status', 'vehicle:lock']);
    device = await enroll('TCU-DEMO-0001');
  }, 120_000);
  afterAll(async () => {
    device?.close();
    await cp?.stop();
  });

  it('an acknowledgement 30 ms after expires_at confirms nothing: the job expires at once, retry unsafe', async () => {
    const id = await lock('alice', 'late-ack');
    const ch = await rawChannel(device);
    const envelope = await ch.envelopeOf(id);
    clock.advance(30_030);
    ch.ack(envelope, clock.now().getTime());
    const refused = await auditOf('commands.ack.refused', id);
    expect(refused.map((e) => e.reason)).toEqual(['ack_after_expiry']);
    expect(await row(id)).toMatchObject({ state: 'expired', retry: 'unsafe' });
    // What the missing-acknowledgement detections read: delivered, then expired without an answer.
    const expiry = (await auditOf('commands.job.transitioned', id, 3)).find((e) => e.details.to === 'expired');
    expect(expiry).toMatchObject({
      decision: 'deny',
      details: { from: 'delivered', to: 'expired', vehicleId: vehicles.get('alice-car') },
    });
    await ch.close();
  });

  it(
    'a delegation that expires after delivery: the envelope is not re-sent on reconnect, the job ends, and ' +
      'the refusal is audited with the requester',
    async () => {
      const validUntil = new Date(clock.now().getTime() + 20_000).toISOString();
      const inv = (
        await as('alice').api('POST', `/v1/vehicles/${vehicles.get('alice-car')}/delegations`, {
          email: 'carl@contoso.example',
          commands: ['lock'],
          validUntil,
        })
      ).json as { invite: { id: string }; code: string };
      const accepted = await as('carl').api('POST', `/v1/delegation-invites/${inv.invite.id}/accept`, {
        code: inv.code,
      });
      expect(accepted.status).toBe(201);
      const id = await lock('carl', 'carl-before-expiry');
      const first = await rawChannel(device);
      const envelope = await first.envelopeOf(id);
      // The connection drops before the vehicle answers; then the delegation runs out.
      await first.close();
      clock.advance(21_000);
      const second = await rawChannel(device);
      const j = await until(id, (x) => x.state !== 'delivered');
      expect(j).toMatchObject({ state: 'rejected', reason: 'authorization_ended_before_dispatch', retry: 'unsafe' });
      await wait(200);
      expect(second.envelopes.map((e) => e.jobId)).not.toContain(id);
      const [denied] = await auditOf('commands.delivery.refused', id);
      const carl = await cp.platform.storage.db
        .selectFrom('users')
        .select(['id'])
        .where('email', '=', 'carl@contoso.example')
        .executeTakeFirstOrThrow();
      expect(denied).toMatchObject({
        actor: { type: 'user', id: carl.id },
        object: { type: 'command_job', id },
        action: 'vehicle:command',
        decision: 'deny',
        reason: 'authorization_ended_before_dispatch',
        details: { delivery: 'repeat', command: 'lock' },
      });
      expect(denied?.tenantId).toBeTruthy();
      // The vehicle's answer to the first send, arriving now, confirms nothing.
      second.ack(envelope, clock.now().getTime());
      expect((await auditOf('commands.ack.refused', id)).map((e) => e.reason)).toEqual(['job_rejected']);
      expect((await row(id)).state).toBe('rejected');
      await second.close();
    },
  );

  it(
    'a vehicle that restarts after executing but before its ack left answers the re-sent envelope with the ' +
      'same ack, and executes it once',
    async () => {
      const stateDir = mkdtempSync(join(tmpdir(), 'carapace-tcu-'));
      const executions: string[] = [];
      const boot = (onExecute: () => void) => {
        const { issued } = device.credentials!;
        const channel: CommandChannel = new CommandChannel({
          gateway: device,
          // Only the state directory: the SDK's default stores are the persistent ones.
          verifier: new EnvelopeVerifier({
            keys: issued.commandVerificationKeys.keys,
            vehicleId: issued.vehicleId,
            deviceId: issued.deviceId,
            trustAnchor: cp.ca,
            stateDir,
            now: () => clock.now().getTime(),
          }),
          stateDir,
          execute: (c) => {
            executions.push(c.jobId);
            onExecute();
            return { result: 'executed', code: null };
          },
          reconnect: false,
        });
        return channel;
      };
      try {
        const id = await lock('alice', 'before-restart');
        // The head unit dies right after executing: the channel is gone before the signed ack can leave.
        const first: CommandChannel = boot(() => first.close());
        await first.connect();
        for (let i = 0; i < 200 && executions.length === 0; i++) await wait(25);
        await wait(100);
        expect(executions).toEqual([id]);
        expect((await row(id)).state).toBe('delivered');
        // The restarted unit: new objects over the same state directory; the platform re-sends the envelope.
        const second = boot(() => undefined);
        await second.connect();
        expect((await until(id, (x) => x.state !== 'delivered')).state).toBe('confirmed');
        expect(executions).toEqual([id]);
        second.close();
      } finally {
        rmSync(stateDir, { recursive: true, force: true });
      }
    },
  );

  it(
    "after a unit replacement the new unit neither receives the old unit's envelope nor confirms it with its " +
      'own signed acknowledgement',
    async () => {
      const id = await lock('alice', 'before-replacement');
      const old = await rawChannel(device);
      const envelope = await old.envelopeOf(id);
      const { replacement } = await cp.platform.pki.replaceDevice({
        deviceId: device.credentials!.issued.deviceId,
        newTcuSerial: 'TCU-DEMO-0001-R',
        reason: 'hardware fault',
        actor: { type: 'operator', id: 'test' },
        context: null,
      });
      await old.close();
      const factory = await cp.platform.pki.issueFactoryCertificate({
        tcuSerial: 'TCU-DEMO-0001-R',
        csrPem: null,
        binding: null,
        actor: { type: 'system', id: null },
      });
      const fresh = new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca });
      await fresh.enroll({ cert: factory.certificatePem, key: factory.privateKeyPem as string });
      expect(fresh.credentials!.issued.deviceId).toBe(replacement.id);
      device.close();
      device = fresh;
      const ch = await rawChannel(fresh);
      expect(await until(id, (x) => x.state !== 'delivered')).toMatchObject({
        state: 'rejected',
        reason: 'device_replaced',
      });
      await wait(200);
      expect(ch.envelopes.map((e) => e.jobId)).not.toContain(id);
      ch.ack(envelope, clock.now().getTime(), fresh);
      expect((await auditOf('commands.ack.refused', id)).map((e) => e.reason)).toEqual(['wrong_device']);
      expect((await row(id)).state).toBe('rejected');
      await ch.close();
    },
  );

  it('charge_limit lives 60 s, on the job and in the envelope the vehicle receives', async () => {
    const res = await as('alice').api(
      'POST',
      `/v1/vehicles/${vehicles.get('alice-car')}/commands`,
      { command: 'charge_limit', params: { percent: 80 } },
      { 'idempotency-key': 'charge-limit-ttl' },
    );
    expect(res.status).toBe(202);
    const id = (res.json as { id: string }).id;
    const job = await cp.platform.storage.db
      .selectFrom('command_jobs')
      .select(['created_at', 'expires_at'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(Date.parse(job.expires_at) - Date.parse(job.created_at)).toBe(60_000);
    const ch = await rawChannel(device);
    const envelope = await ch.envelopeOf(id);
    const claims = JSON.parse(envelope.signed) as { issuedAt: number; expiresAt: number };
    expect(claims.expiresAt - claims.issuedAt).toBeLessThanOrEqual(60_000);
    ch.ack(envelope, clock.now().getTime());
    expect((await until(id, (x) => x.state !== 'delivered')).state).toBe('confirmed');
    await ch.close();
  });

  it(
    'a transfer ends a delivered job in its own transaction; it is never re-sent and the old answer confirms ' +
      'nothing',
    async () => {
      const id = await lock('alice', 'before-transfer');
      const first = await rawChannel(device);
      const envelope = await first.envelopeOf(id);
      await first.close();
      const t = await as('alice').api('POST', `/v1/vehicles/${vehicles.get('alice-car')}/transfer`, {
        toEmail: 'bob@example.com',
      });
      expect(t.status).toBe(200);
      expect(await row(id)).toMatchObject({ state: 'rejected', retry: 'unsafe' });
      const transferred = await cp.platform.audit.list({ type: 'relationships.vehicle.transferred', limit: 5 });
      expect(transferred[0]?.details.ended_commandJobs).toBe(1);
      const second = await rawChannel(device);
      await wait(300);
      expect(second.envelopes.map((e) => e.jobId)).not.toContain(id);
      second.ack(envelope, clock.now().getTime());
      expect((await auditOf('commands.ack.refused', id)).map((e) => e.reason)).toEqual(['job_rejected']);
      expect((await row(id)).state).toBe('rejected');
      await second.close();
    },
  );
});
