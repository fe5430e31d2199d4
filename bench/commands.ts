/**
 * Remote command benchmark. Measures, in one run on this machine:
 * - baseline: raw Ed25519 sign + verify pairs per second (node:crypto, one core, envelope-sized messages):
 *   the cryptographic floor of a command, which is signed by the platform and verified by the vehicle
 *   (and its acknowledgement signed by the vehicle and verified by the platform);
 * - end to end: request -> confirmed latency (p50, p99) of `lock` commands against a real `carapace serve`
 *   process (SQLite; started as `npm start` does, bench/server.ts) with BENCH_VEHICLES (1,000) simulated
 *   vehicles connected over mTLS WebSockets. Each command goes over HTTPS with a DPoP-bound owner token, is
 *   authorized (token, Cedar, scope, limits), persisted with its decision record, dispatched (authorization
 *   again, counter, Ed25519 envelope), verified and executed by the vehicle, and confirmed from its signed
 *   acknowledgement.
 * The cost split comes from the job's own transition times, on the same clock as the load generator:
 * authorization = request sent -> job requested (HTTP, TLS, token, Cedar, checks); persistence = requested ->
 * queued (state read, job, transitions and audit in one transaction); signing = queued -> delivered
 * (dispatch, re-authorization, counter, Ed25519, transition); delivery = delivered -> confirmed (WebSocket
 * both ways, the vehicle's verification and signed ack, ack verification, two transitions).
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CarapaceClient } from '../src/client/index.js';
import { runFleet, unitsIn } from '../src/simulator/index.js';
import { freePort } from '../src/testing/index.js';
import { openStorage } from '../src/storage/index.js';
import { carapace, serve, serverEnv, stop } from './server.js';

const VEHICLES = Number(process.env.BENCH_VEHICLES ?? 1000);
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 10_000);

/** Raw Ed25519 sign + verify pairs per second over envelope-sized messages (the crypto floor). */
function rawSignVerify(): { perSecond: number } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const msg = Buffer.alloc(420, 'x');
  for (let i = 0; i < 500; i++) verify(null, msg, publicKey, sign(null, msg, privateKey));
  const start = process.hrtime.bigint();
  for (let i = 0; i < PAIRS; i++) {
    msg[i % 420] = i & 0xff;
    if (!verify(null, msg, publicKey, sign(null, msg, privateKey))) throw new Error('verify failed');
  }
  return { perSecond: PAIRS / (Number(process.hrtime.bigint() - start) / 1e9) };
}

/** The bench scenario: one owner with MFA and VEHICLES cars, each with a provisioned unit. */
function scenario(): string {
  const lines = [
    'tenants:',
    '  - { key: oem, name: Bench OEM, kind: oem }',
    '  - { key: home, name: Bench household, kind: consumer }',
    'users:',
    '- { key: ben, email: ben@bench.example, name: Ben Bench, password: bench-password-123, memberships: [{ ' +
      'tenant: home, role: owner }] }',
    'applications:',
    "  - { clientId: carapace-owner-app, name: Owner app, tenant: oem, kind: public, redirectUris: ['http://127.0.0.1/callback'], scopes: [openid, vehicle:read_status, vehicle:lock] }",
    'vehicles:',
  ];
  for (let i = 0; i < VEHICLES; i++)
    lines.push(
      `  - { key: car-${i}, vin: 1BENCH${String(i).padStart(11, '0')}, tcuSerial: TCU-BENCH-${String(i).padStart(5, '0')} }`,
    );
  lines.push('relationships:');
  for (let i = 0; i < VEHICLES; i++) lines.push(`  - { kind: ownership, user: ben, vehicle: car-${i}, from: -1d }`);
  return `${lines.join('\n')}\n`;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

const raw = rawSignVerify();
process.stdout.write(
  `raw Ed25519 sign+verify (node:crypto, one core): ${Math.round(raw.perSecond)} pairs/s (${(1000 / raw.perSecond).toFixed(3)} ms per pair)\n`,
);

const dataDir = mkdtempSync(join(tmpdir(), 'carapace-bench-cmd-'));
const [pub, gw, adm] = [await freePort(), await freePort(), await freePort()];
const env = serverEnv(
  dataDir,
  { pub, gw, adm },
  {
    CARAPACE_COMMANDS_PER_USER: '1000000',
    CARAPACE_COMMANDS_PER_CLIENT: '1000000',
    CARAPACE_COMMANDS_PER_TENANT: '1000000',
  },
);
writeFileSync(join(dataDir, 'bench.yaml'), scenario());
await carapace(['migrate'], env);
await carapace(['seed', join(dataDir, 'bench.yaml')], env);
const server = await serve(env);
let fleet: Awaited<ReturnType<typeof runFleet>> | null = null;
try {
  const ca = readFileSync(join(dataDir, 'pki', 'ca.pem'), 'utf8');
  const t0 = performance.now();
  fleet = await runFleet({
    units: unitsIn(join(dataDir, 'factory'), null),
    gatewayUrl: `https://localhost:${gw}`,
    ca,
    intervalSeconds: 600,
    moving: 0,
    concurrency: 8,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  const connected = fleet.vehicles.filter((v) => v.channel?.open).length;
  process.stdout.write(
    `${connected} simulated vehicles enrolled and connected in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  );

  const ben = await CarapaceClient.create({
    baseUrl: `https://localhost:${pub}`,
    ca,
    clientId: 'carapace-owner-app',
    redirectUri: 'http://127.0.0.1/callback',
  });
  await ben.login({
    email: 'ben@bench.example',
    password: 'bench-password-123',
    scopes: ['openid', 'vehicle:read_status', 'vehicle:lock'],
  });
  const vehicles = fleet.vehicles.map((v) => v.vehicleId);
  let keySeq = 0;
  /** Sends `count` lock commands with `inFlight` at a time and reads every job's transitions back. */
  const phase = async (count: number, inFlight: number) => {
    const sentAt = new Map<string, number>();
    let next = 0;
    const send = async () => {
      const i = keySeq++;
      const vehicleId = vehicles[i % vehicles.length] as string;
      const start = Date.now();
      const res = await ben.api(
        'POST',
        `/v1/vehicles/${vehicleId}/commands`,
        { command: 'lock' },
        { 'idempotency-key': `bench-${i}` },
      );
      if (res.status !== 202) throw new Error(`command ${i}: ${res.status} ${res.text}`);
      sentAt.set((res.json as { id: string }).id, start);
    };
    const w0 = performance.now();
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next++ < count) await send();
      }),
    );
    const storage = await openStorage({ url: null, schema: 'public', dataDir });
    const ids = [...sentAt.keys()];
    let rows: Array<{ job_id: string; to_state: string; at: string }> = [];
    for (let attempt = 0; attempt < 600; attempt++) {
      rows = [];
      for (let i = 0; i < ids.length; i += 500)
        rows.push(
          ...(await storage.db
            .selectFrom('command_transitions')
            .select(['job_id', 'to_state', 'at'])
            .where('job_id', 'in', ids.slice(i, i + 500))
            .execute()),
        );
      if (
        new Set(
          rows.filter((r) => ['confirmed', 'failed', 'expired', 'rejected'].includes(r.to_state)).map((r) => r.job_id),
        ).size === ids.length
      )
        break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const wall = (performance.now() - w0) / 1000;
    await storage.close();
    const by = new Map<string, Record<string, number>>();
    for (const r of rows) by.set(r.job_id, { ...by.get(r.job_id), [r.to_state]: Date.parse(r.at) });
    const total: number[] = [];
    const authz: number[] = [];
    const persist: number[] = [];
    const signing: number[] = [];
    const delivery: number[] = [];
    for (const [id, t] of by) {
      const start = sentAt.get(id) as number;
      if (t.confirmed === undefined || t.requested === undefined || t.queued === undefined || t.delivered === undefined)
        continue;
      total.push(t.confirmed - start);
      authz.push(t.requested - start);
      persist.push(t.queued - t.requested);
      signing.push(t.delivered - t.queued);
      delivery.push(t.confirmed - t.delivered);
    }
    const split = {
      authorizationMs: mean(authz),
      persistenceMs: mean(persist),
      signingMs: mean(signing),
      deliveryMs: mean(delivery),
    };
    const sum = Object.values(split).reduce((a, b) => a + b, 0);
    process.stdout.write(
      `\n${inFlight} in flight: ${total.length} of ${ids.length} commands confirmed in ${wall.toFixed(1)} s (${(total.length / wall).toFixed(0)}/s)\n`,
    );
    process.stdout.write(`request -> confirmed: p50 ${pct(total, 50)} ms, p99 ${pct(total, 99)} ms\n`);
    for (const [k, v] of Object.entries(split))
      process.stdout.write(
        `  ${k.replace('Ms', '').padEnd(14)} ${v.toFixed(1)} ms (${((v / sum) * 100).toFixed(0)} %)\n`,
      );
    return {
      inFlight,
      commands: ids.length,
      confirmed: total.length,
      p50Ms: pct(total, 50),
      p99Ms: pct(total, 99),
      throughputPerSecond: Number((total.length / wall).toFixed(1)),
      split: Object.fromEntries(Object.entries(split).map(([k, v]) => [k, Number(v.toFixed(2))])),
    };
  };
  // Warm-up outside the measurement (connections, JIT, statement caches).
  await phase(20, 4);
  const single = await phase(Math.min(500, COMMANDS), 1);
  const loaded = await phase(COMMANDS, CONCURRENCY);
  const cryptoMs = 2 * (1000 / raw.perSecond);
  process.stdout.write(
    `\ncrypto floor per command (2 sign+verify pairs: envelope and ack): ${cryptoMs.toFixed(3)} ms = ${((cryptoMs / single.p50Ms) * 100).toFixed(1)} % of the unloaded p50\n`,
  );
  process.stdout.write(
    `${JSON.stringify({
      benchmark: 'commands',
      node: process.version,
      engine: 'sqlite',
      vehicles: connected,
      rawEd25519SignVerifyPerSecond: Math.round(raw.perSecond),
      p50Ms: single.p50Ms,
      p99Ms: single.p99Ms,
      split: single.split,
      loaded,
      cryptoFloorShareOfP50: Number((cryptoMs / single.p50Ms).toFixed(4)),
    })}\n`,
  );
} finally {
  fleet?.stop();
  await stop(server);
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);
