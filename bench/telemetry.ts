/**
 * Telemetry ingestion benchmark. Measures, in one run on this machine:
 * - raw verify: Ed25519 signature verifications per second on one core with node:crypto (the same call,
 *   KeyObject and message size the gateway uses): the ceiling of any signed-ingestion path;
 * - end to end: accepted messages per second per core of a real `carapace serve` process (HTTP batches over
 *   mTLS with a certificate-bound token, signature verification, replay window, validation, plausibility,
 *   one durable transaction per batch) on SQLite, and on PostgreSQL when DATABASE_URL is set. The server
 *   runs in its own process so the load generator's work is not counted; "per core" divides the accepted
 *   messages by the CPU seconds the server process used (user + system, all its threads). PostgreSQL's own
 *   CPU is in other processes and is not counted.
 * Prints the ratio of the two. Messages are signed before the clock starts: signing is the devices' work.
 */
import { generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../src/testing/index.js';
import {
  canonicalMessage,
  GatewayClient,
  MemorySequenceStore,
  type SignedTelemetry,
  TelemetrySigner,
  type TelemetryMessage,
} from '../src/vehicle-sdk/index.js';
import { carapace, serve, serverEnv, stop } from './server.js';

const DEVICES = Number(process.env.BENCH_DEVICES ?? 4);
const BATCH = Number(process.env.BENCH_BATCH ?? 250);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 40_000);
const VERIFIES = Number(process.env.BENCH_VERIFIES ?? 30_000);

function sampleMessage(seq: number): TelemetryMessage {
  return {
    deviceId: randomUUID(),
    vehicleId: randomUUID(),
    bootId: randomUUID(),
    seq,
    ts: Date.now(),
    swVersion: '4.2.0',
    configId: 'cfg-2026-11',
    payload: { kind: 'position', lat: 48.137154 + seq * 1e-6, lon: 11.576124, headingDeg: 87.5, accuracyM: 4.2 },
  };
}

/** Raw Ed25519 verifications per second with a cached KeyObject, over realistic message bytes. */
function rawVerifyRate(): { perSecond: number; messageBytes: number } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const data = Array.from({ length: 256 }, (_, i) => Buffer.from(canonicalMessage(sampleMessage(i + 1))));
  const sigs = data.map((d) => sign(null, d, privateKey));
  for (let i = 0; i < 2000; i++) verify(null, data[i % 256] as Buffer, publicKey, sigs[i % 256] as Buffer);
  const start = process.hrtime.bigint();
  let ok = 0;
  for (let i = 0; i < VERIFIES; i++)
    if (verify(null, data[i % 256] as Buffer, publicKey, sigs[i % 256] as Buffer)) ok++;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (ok !== VERIFIES) throw new Error('verification failed');
  return {
    perSecond: VERIFIES / seconds,
    messageBytes: Math.round(data.reduce((n, d) => n + d.length, 0) / data.length),
  };
}

/** CPU seconds (user + system, every thread) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function endToEnd(
  engine: 'sqlite' | 'postgres',
): Promise<{ acceptedPerSecond: number; acceptedPerCoreSecond: number; serverCpuSeconds: number; seconds: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'carapace-bench-'));
  const schema = `bench_${process.pid}_${Date.now().toString(36)}`;
  const [pub, gw, adm] = [await freePort(), await freePort(), await freePort()];
  const env = serverEnv(
    dataDir,
    { pub, gw, adm },
    {
      DATABASE_URL: engine === 'postgres' ? process.env.DATABASE_URL : '',
      CARAPACE_DATABASE_SCHEMA: schema,
      CARAPACE_TELEMETRY_DEVICE_RATE: '10000000',
      CARAPACE_TELEMETRY_FLEET_RATE: '1000000000',
    },
  );
  const server = await serve(env);
  try {
    const ca = readFileSync(join(dataDir, 'pki', 'ca.pem'), 'utf8');
    const devices: Array<{ client: GatewayClient; batches: SignedTelemetry[][] }> = [];
    for (let d = 0; d < DEVICES; d++) {
      const out = join(dataDir, `unit-${d}`);
      await carapace(['pki', 'factory-cert', '--serial', `TCU-BENCH-T${d}`, '--out', out], env);
      const client = new GatewayClient({ gatewayUrl: `https://localhost:${gw}`, ca });
      const { key, issued } = await client.enroll({
        cert: readFileSync(join(out, 'factory-cert.pem'), 'utf8'),
        key: readFileSync(join(out, 'factory-key.pem'), 'utf8'),
      });
      const signer = new TelemetrySigner({
        identity: {
          deviceId: issued.deviceId,
          vehicleId: issued.vehicleId,
          swVersion: '4.2.0',
          configId: 'cfg-2026-11',
        },
        privateKeyPem: key.privateKeyPem,
        sequences: new MemorySequenceStore(),
        reserve: 100_000,
      });
      const batches: SignedTelemetry[][] = [];
      const perDevice = Math.ceil(MESSAGES / DEVICES / BATCH);
      for (let b = 0; b < perDevice; b++) {
        const batch: SignedTelemetry[] = [];
        for (let i = 0; i < BATCH; i++) {
          const m = await signer.sign({
            kind: 'position',
            lat: 48.137154 + (b * BATCH + i) * 1e-7,
            lon: 11.576124,
            headingDeg: 87.5,
            accuracyM: 4.2,
          });
          batch.push({ signed: m.signed, sig: m.sig });
        }
        batches.push(batch);
      }
      await client.telemetryToken();
      // Warm-up: one batch per device outside the measurement (connections, JIT, statement caches).
      const warm = batches.shift() as SignedTelemetry[];
      if ((await client.sendTelemetry(warm)).accepted !== warm.length) throw new Error('warm-up batch not accepted');
      devices.push({ client, batches });
    }

    const cpu0 = cpuSeconds(server.pid as number);
    const t0 = performance.now();
    let accepted = 0;
    await Promise.all(
      devices.map(async ({ client, batches }) => {
        for (const batch of batches) {
          const r = await client.sendTelemetry(batch);
          if (r.accepted !== batch.length)
            throw new Error(
              `batch not fully accepted: ${JSON.stringify(r.verdicts.find((v) => v.verdict !== 'accepted'))}`,
            );
          accepted += r.accepted;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const serverCpu = cpuSeconds(server.pid as number) - cpu0;
    for (const d of devices) d.client.close();
    return {
      acceptedPerSecond: accepted / seconds,
      acceptedPerCoreSecond: accepted / serverCpu,
      serverCpuSeconds: serverCpu,
      seconds,
    };
  } finally {
    await stop(server);
    rmSync(dataDir, { recursive: true, force: true });
    if (engine === 'postgres' && process.env.DATABASE_URL) {
      const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => c.end());
    }
  }
}

const raw = rawVerifyRate();
process.stdout.write(
  `raw Ed25519 verify (node:crypto, one core, ${raw.messageBytes}-byte messages): ${Math.round(raw.perSecond)}/s\n`,
);
const sqlite = await endToEnd('sqlite');
process.stdout.write(
  `end to end on sqlite: ${Math.round(sqlite.acceptedPerSecond)} accepted msg/s wall, ${Math.round(sqlite.acceptedPerCoreSecond)} per server core-second (ratio ${(sqlite.acceptedPerCoreSecond / raw.perSecond).toFixed(3)})\n`,
);
const postgres = process.env.DATABASE_URL ? await endToEnd('postgres') : null;
if (postgres)
  process.stdout.write(
    `end to end on postgres: ${Math.round(postgres.acceptedPerSecond)} accepted msg/s wall, ${Math.round(postgres.acceptedPerCoreSecond)} per server core-second (ratio ${(postgres.acceptedPerCoreSecond / raw.perSecond).toFixed(3)})\n`,
  );

const figures = {
  benchmark: 'telemetry',
  node: process.version,
  devices: DEVICES,
  batchSize: BATCH,
  messages: MESSAGES,
  messageBytes: raw.messageBytes,
  rawEd25519VerifyPerSecond: Math.round(raw.perSecond),
  sqliteAcceptedPerSecond: Math.round(sqlite.acceptedPerSecond),
  sqliteAcceptedPerCoreSecond: Math.round(sqlite.acceptedPerCoreSecond),
  sqliteRatio: Number((sqlite.acceptedPerCoreSecond / raw.perSecond).toFixed(3)),
  postgresAcceptedPerSecond: postgres ? Math.round(postgres.acceptedPerSecond) : null,
  postgresAcceptedPerCoreSecond: postgres ? Math.round(postgres.acceptedPerCoreSecond) : null,
  postgresRatio: postgres ? Number((postgres.acceptedPerCoreSecond / raw.perSecond).toFixed(3)) : null,
};
process.stdout.write(`${JSON.stringify(figures)}\n`);
