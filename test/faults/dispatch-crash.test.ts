import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../../src/client/index.js';
import { currentTotp } from '../../src/identity/index.js';
import { openStorage } from '../../src/storage/index.js';
import { testEngines } from '../../src/testing/index.js';
import {
  CommandChannel,
  EnvelopeVerifier,
  GatewayClient,
  MemoryAnswerStore,
  MemoryCounterStore,
  MemorySequenceStore,
  TelemetrySigner,
  VehicleModel,
} from '../../src/vehicle-sdk/index.js';
import { dropSchema, exited, serve, serverEnvironment } from './server-process.js';
import { eventually } from './waiting.js';

const FINAL = ['confirmed', 'failed', 'rejected', 'expired'];
// One per conflict group (a vehicle has one open job per group), each with a TTL that outlives three server starts.
const COMMANDS = [
  { command: 'lock' },
  { command: 'climate', params: { on: true } },
  { command: 'charge_limit', params: { percent: 80 } },
];

// PostgreSQL when it is set (three server starts take most of the time budget), SQLite otherwise.
describe.each(testEngines().slice(-1))('kill -9 during dispatch (issue 18, %s)', (engine) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'carapace-dispatch-kill-'));
  const schema = `dkill_${process.pid}_${Date.now().toString(36)}`;
  const url = engine === 'postgres' ? (process.env.DATABASE_URL as string) : null;
  let server: ChildProcess | null = null;
  afterAll(async () => {
    server?.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    await dropSchema(url, schema);
  });

  it('every accepted job ends in one final state, none runs twice, none is lost', async () => {
    const env = await serverEnvironment({ dataDir, url, schema, seedDemo: true });
    // First run: the process dies the instant the first envelope is handed to the vehicle's socket.
    server = await serve({ ...env, CARAPACE_FAULT_POINTS: 'commands.after-delivery:exit' });
    const ca = readFileSync(join(dataDir, 'pki', 'ca.pem'), 'utf8');
    const unit = join(dataDir, 'factory', 'TCU-DEMO-0001');
    const gateway = new GatewayClient({ gatewayUrl: env.gatewayUrl, ca });
    const { issued, key } = await gateway.enroll({
      cert: readFileSync(join(unit, 'factory-cert.pem'), 'utf8'),
      key: readFileSync(join(unit, 'factory-key.pem'), 'utf8'),
    });
    const model = new VehicleModel();
    const signer = new TelemetrySigner({
      identity: { deviceId: issued.deviceId, vehicleId: issued.vehicleId, swVersion: '1', configId: 'c' },
      privateKeyPem: key.privateKeyPem,
      sequences: new MemorySequenceStore(),
    });
    // The car reports its state, so its commands are queued rather than refused for an unknown state.
    await gateway.sendTelemetry(await Promise.all(model.telemetry().map((p) => signer.sign(p))));

    const alice = await CarapaceClient.create({
      baseUrl: env.publicUrl,
      ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await alice.login({
      email: 'alice@example.com',
      password: 'demo-alice-password',
      totp: () => currentTotp('JBSWY3DPEHPK3PXPALICE234', new Date()),
      scopes: ['openid', 'vehicle:read_status', 'vehicle:lock', 'vehicle:climate', 'vehicle:charging'],
    });
    const car = issued.vehicleId;
    // Accepted (202) while the car is offline: all of them are queued when its channel opens.
    const jobs: string[] = [];
    for (const [i, body] of COMMANDS.entries()) {
      const r = await alice.api('POST', `/v1/vehicles/${car}/commands`, body, { 'idempotency-key': `k${i}` });
      expect(r.status).toBe(202);
      jobs.push((r.json as { id: string }).id);
    }

    // The vehicle counts what it executes, per job; it keeps its answers and counters across the server's deaths.
    const executions = new Map<string, number>();
    const channel = new CommandChannel({
      gateway,
      verifier: new EnvelopeVerifier({
        keys: issued.commandVerificationKeys.keys,
        vehicleId: issued.vehicleId,
        deviceId: issued.deviceId,
        counters: new MemoryCounterStore(),
        trustAnchor: ca,
      }),
      answered: new MemoryAnswerStore(),
      execute: (c) => {
        executions.set(c.jobId, (executions.get(c.jobId) ?? 0) + 1);
        return model.execute(c.command, c.params);
      },
      reconnectMs: 200,
      reconnectMaxMs: 2000,
    });
    const signals: unknown[] = [];
    try {
      await channel.connect();
      signals.push(await exited(server));
      // Second run: the vehicle reconnects, the unanswered envelope is sent again, and the process dies when the
      // vehicle's signed answer is in but before its transition commits.
      server = await serve({ ...env, CARAPACE_FAULT_POINTS: 'commands.before-ack-commit:exit' });
      signals.push(await exited(server));
      // Third run, no fault: everything settles.
      server = await serve(env);
      const states = async () => {
        const out: string[] = [];
        for (const id of jobs)
          out.push(((await alice.api('GET', `/v1/vehicles/${car}/commands/${id}`)).json as { state: string }).state);
        return out;
      };
      expect(await eventually(async () => (await states()).every((s) => FINAL.includes(s)), 30_000)).toBe(true);
      expect(await states()).toEqual(jobs.map(() => 'confirmed'));
    } finally {
      channel.close();
      gateway.close();
    }
    expect(signals).toEqual(['SIGKILL', 'SIGKILL']);
    // Executed once each, although the first envelope reached the vehicle up to three times.
    expect(jobs.map((id) => executions.get(id) ?? 0)).toEqual(jobs.map(() => 1));

    server.kill('SIGKILL');
    await exited(server);
    const storage = await openStorage({ url, schema, dataDir });
    try {
      const rows = await storage.db
        .selectFrom('command_transitions')
        .select(['job_id', 'to_state'])
        .where('job_id', 'in', jobs)
        .execute();
      // Exactly one final transition per job in its history, and the first job was delivered once (never twice).
      for (const id of jobs) {
        const mine = rows.filter((r) => r.job_id === id).map((r) => r.to_state);
        expect(mine.filter((s) => FINAL.includes(s))).toEqual(['confirmed']);
        expect(mine.filter((s) => s === 'delivered')).toHaveLength(1);
      }
    } finally {
      await storage.close();
    }
  }, 150_000);
});
