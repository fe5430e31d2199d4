/**
 * Vehicle gateway benchmark. Measures, in one run on this machine:
 * - baseline: requests/s of a bare Node HTTPS server that requires a client certificate (same certificate,
 *   same keep-alive connections, same concurrency): the cost of TLS and HTTP alone;
 * - gateway: requests/s of GET /v1/devices/{id}, which adds certificate classification, the revocation
 *   fast path, lifecycle and device-binding checks, routing, a database read and response serialization;
 * - enrollment: complete enrollments/s (new TLS handshake, CSR verification, issuance, durable write, audit);
 * - revocation: milliseconds from the admin-plane revoke call to the device's open connection being closed.
 */
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { startTestCarapace } from '../src/testing/index.js';
import { GatewayClient, httpsRequest } from '../src/vehicle-sdk/index.js';

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

const cp = await startTestCarapace({ database: process.env.DATABASE_URL ? 'postgres' : 'sqlite' });
try {
  const device = await cp.enrolledDevice('TCU-BENCH-0');
  const { key, issued } = device.credentials!;
  const tls = { ca: cp.ca, cert: issued.certificate, key: key.privateKeyPem };

  const baseline = https.createServer(
    {
      key: cp.tls.key,
      cert: cp.tls.cert,
      ca: [cp.platform.pki.ctx.authorities.root.pem, cp.platform.pki.ctx.authorities.fleet.pem],
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
  const gatewayRps = await hammer(
    `${cp.addresses.gateway.replace('127.0.0.1', 'localhost')}/v1/devices/${issued.deviceId}`,
    tls,
  );

  const units = [];
  for (let i = 0; i < ENROLLMENTS; i++) units.push(await cp.factoryUnit(`TCU-BENCH-E${i}`));
  const enrollStart = performance.now();
  for (const unit of units) {
    const c = new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca });
    await c.enroll(unit);
  }
  const enrollPerSecond = ENROLLMENTS / ((performance.now() - enrollStart) / 1000);

  const latencies: number[] = [];
  for (let i = 0; i < REVOCATIONS; i++) {
    const victim = await cp.enrolledDevice(`TCU-BENCH-R${i}`);
    const v = victim.credentials!;
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    let socket: TLSSocket | null = null;
    agent.once('free', (s: TLSSocket) => (socket = s));
    await httpsRequest(`${cp.addresses.gateway}/v1/devices/${v.issued.deviceId}`, {
      ca: cp.ca,
      cert: v.issued.certificate,
      key: v.key.privateKeyPem,
      agent,
    });
    const closed = new Promise<number>((resolve) => socket?.once('close', () => resolve(performance.now())));
    const t0 = performance.now();
    await httpsRequest(`${cp.addresses.admin}/admin/v1/revocations`, {
      method: 'POST',
      ca: cp.ca,
      cert: cp.operatorTls.cert,
      key: cp.operatorTls.key,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId: v.issued.deviceId, reason: 'keyCompromise' }),
    });
    latencies.push((await closed) - t0);
    agent.destroy();
  }

  const figures = {
    benchmark: 'gateway',
    engine: cp.platform.storage.dialect,
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
  await cp.stop();
}
