/**
 * Vehicle gateway benchmark. Measures, in one run on this machine:
 * - baseline: requests/s of a bare Node HTTPS server that requires a client certificate (same certificate,
 *   same keep-alive connections, same concurrency): the cost of TLS and HTTP alone;
 * - gateway: requests/s of GET /v1/devices/{id}, which adds certificate classification, the revocation
 *   fast path, lifecycle and device-binding checks, routing, a database read and response serialization;
 * - enrollment: complete enrollments/s (new TLS handshake, CSR verification, issuance, durable write, audit);
 * - revocation: milliseconds from the admin-plane revoke call to the device's open connection being closed.
 * The server is a `carapace serve` process started as `npm start` does (bench/server.ts), on SQLite, or on
 * PostgreSQL when DATABASE_URL is set; its units come from a seeded scenario's factory credentials.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { dropTestDatabase, freePort, testDatabaseSettings } from '../src/testing/index.js';
import { GatewayClient, httpsRequest } from '../src/vehicle-sdk/index.js';
import { carapace, serve, serverEnv, stop } from './server.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = 16;
const ENROLLMENTS = Number(process.env.BENCH_ENROLLMENTS ?? 100);
const REVOCATIONS = 20;

async function hammer(url: string, tls: { ca: string; cert: string; key: string }): Promise<number> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: tls.ca, cert: tls.cert, key: tls.key });
  const deadline = performance.now() + SECONDS * 1000;
  let done = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      const res = await httpsRequest(url, { ...tls, agent });
      if (res.status !== 200) throw new Error(`unexpected ${res.status}: ${res.text}`);
      done++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  agent.destroy();
  return done / ((performance.now() - start) / 1000);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const engine = process.env.DATABASE_URL ? 'postgres' : 'sqlite';
const database = testDatabaseSettings(engine);
const dataDir = mkdtempSync(join(tmpdir(), 'carapace-bench-gw-'));
const [pub, gw, adm] = [await freePort(), await freePort(), await freePort()];
const env = serverEnv(
  dataDir,
  { pub, gw, adm },
  { DATABASE_URL: database.url ?? '', CARAPACE_DATABASE_SCHEMA: database.schema },
);
const serials = [
  'TCU-BENCH-0',
  ...Array.from({ length: ENROLLMENTS }, (_, i) => `TCU-BENCH-E${i}`),
  ...Array.from({ length: REVOCATIONS }, (_, i) => `TCU-BENCH-R${i}`),
];
const scenario = [
  'tenants:',
  '  - { key: oem, name: Bench OEM, kind: oem }',
  'users: []',
  'vehicles:',
  ...serials.map((s, i) => `  - { key: car-${i}, vin: 1BENCH${String(i).padStart(11, '0')}, tcuSerial: ${s} }`),
];
writeFileSync(join(dataDir, 'bench.yaml'), `${scenario.join('\n')}\n`);
await carapace(['migrate'], env);
await carapace(['seed', join(dataDir, 'bench.yaml')], env);
const server = await serve(env);
const gatewayUrl = `https://localhost:${gw}`;
const pem = (...path: string[]) => readFileSync(join(dataDir, ...path), 'utf8');
/** The factory credentials the seed wrote for a unit (what the factory would have put in the TCU). */
const unit = (serial: string) => ({
  cert: pem('factory', serial, 'factory-cert.pem'),
  key: pem('factory', serial, 'factory-key.pem'),
});
try {
  const ca = pem('pki', 'ca.pem');
  const enrolled = async (serial: string) => {
    const client = new GatewayClient({ gatewayUrl, ca });
    await client.enroll(unit(serial));
    return client;
  };
  const device = await enrolled('TCU-BENCH-0');
  const { key, issued } = device.credentials!;
  const tls = { ca, cert: issued.certificate, key: key.privateKeyPem };

  const baseline = https.createServer(
    {
      key: pem('pki', 'server-key.pem'),
      cert: pem('pki', 'server-cert.pem'),
      ca: issued.chain,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ deviceId: issued.deviceId, status: 'active' }));
    },
  );
  await new Promise<void>((r) => baseline.listen(0, '127.0.0.1', r));
  const basePort = (baseline.address() as { port: number }).port;
  const baselineRps = await hammer(`https://localhost:${basePort}/`, tls);
  baseline.close();
  const gatewayRps = await hammer(`${gatewayUrl}/v1/devices/${issued.deviceId}`, tls);

  const units = Array.from({ length: ENROLLMENTS }, (_, i) => unit(`TCU-BENCH-E${i}`));
  const enrollStart = performance.now();
  for (const unit of units) {
    const c = new GatewayClient({ gatewayUrl, ca });
    await c.enroll(unit);
  }
  const enrollPerSecond = ENROLLMENTS / ((performance.now() - enrollStart) / 1000);

  const latencies: number[] = [];
  for (let i = 0; i < REVOCATIONS; i++) {
    const victim = await enrolled(`TCU-BENCH-R${i}`);
    const v = victim.credentials!;
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    let socket: TLSSocket | null = null;
    agent.once('free', (s: TLSSocket) => (socket = s));
    await httpsRequest(`${gatewayUrl}/v1/devices/${v.issued.deviceId}`, {
      ca,
      cert: v.issued.certificate,
      key: v.key.privateKeyPem,
      agent,
    });
    const closed = new Promise<number>((resolve) => socket?.once('close', () => resolve(performance.now())));
    const t0 = performance.now();
    await httpsRequest(`https://localhost:${adm}/admin/v1/revocations`, {
      method: 'POST',
      ca,
      cert: pem('pki', 'operator', 'admin-cert.pem'),
      key: pem('pki', 'operator', 'admin-key.pem'),
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId: v.issued.deviceId, reason: 'keyCompromise' }),
    });
    latencies.push((await closed) - t0);
    agent.destroy();
  }

  const figures = {
    benchmark: 'gateway',
    engine,
    node: process.version,
    concurrency: CONCURRENCY,
    baselineMtlsRequestsPerSecond: Math.round(baselineRps),
    gatewayRequestsPerSecond: Math.round(gatewayRps),
    gatewayToBaselineRatio: Number((gatewayRps / baselineRps).toFixed(3)),
    enrollmentsPerSecond: Number(enrollPerSecond.toFixed(1)),
    revokeToDisconnectMsP50: Number(percentile(latencies, 50).toFixed(1)),
    revokeToDisconnectMsP99: Number(percentile(latencies, 99).toFixed(1)),
  };
  process.stdout.write(
    `baseline mTLS ${figures.baselineMtlsRequestsPerSecond} req/s; gateway ${figures.gatewayRequestsPerSecond} req/s (ratio ${figures.gatewayToBaselineRatio})\n`,
  );
  process.stdout.write(
    `enrollment ${figures.enrollmentsPerSecond}/s; revoke -> open connection closed p50 ${figures.revokeToDisconnectMsP50} ms, p99 ${figures.revokeToDisconnectMsP99} ms\n`,
  );
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  device.close();
} finally {
  await stop(server);
  await dropTestDatabase(database);
  rmSync(dataDir, { recursive: true, force: true });
}
