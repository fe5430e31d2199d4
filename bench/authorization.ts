/**
 * Authorization benchmark. Starts Carapace as `npm start` does (bin/carapace.js over dist/) with tracing on, sends
 * owner requests (GET /v1/vehicles/{id}/status, DPoP-bound token) and reads the server's own `authorization` spans
 * from a local OTLP/HTTP receiver: each span covers the whole step (the change-counter read, principal and object
 * loading through the entity cache, the caller's relationships, Cedar, and for a denial or a state change the
 * decision's audit event) and carries the time spent inside Cedar (`carapace.cedar_ms`), the floor it is compared
 * with. An allowed read's decision record is written while its handler runs and awaited before the reply: its own
 * `decision-record` span, reported apart. BENCH_ENGINE=postgres runs it on DATABASE_URL. Last line: one JSON object.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CarapaceClient } from '../src/client/index.js';
import { freePort } from '../src/testing/index.js';
import { carapace, serve, serverEnv, stop } from './server.js';

const VEHICLES = Number(process.env.BENCH_VEHICLES ?? 200);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const ENGINE = process.env.BENCH_ENGINE === 'postgres' ? 'postgres' : 'sqlite';

/** One owner with VEHICLES cars. */
function scenario(): string {
  const lines = [
    'tenants:',
    '  - { key: oem, name: Bench OEM, kind: oem }',
    '  - { key: home, name: Bench household, kind: consumer }',
    'users:',
    '- { key: ben, email: ben@bench.example, name: Ben Bench, password: bench-password-123, memberships: [{ ' +
      'tenant: home, role: owner }] }',
    'applications:',
    "  - { clientId: carapace-owner-app, name: Owner app, tenant: oem, kind: public, redirectUris: ['http://127.0.0.1/callback'], scopes: [openid, vehicle:read_status] }",
    'vehicles:',
  ];
  for (let i = 0; i < VEHICLES; i++) lines.push(`  - { key: car-${i}, vin: 1AUTHZ${String(i).padStart(11, '0')} }`);
  lines.push('relationships:');
  for (let i = 0; i < VEHICLES; i++) lines.push(`  - { kind: ownership, user: ben, vehicle: car-${i}, from: -1d }`);
  return `${lines.join('\n')}\n`;
}

interface OtlpSpan {
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: Array<{ key: string; value: { doubleValue?: number; intValue?: string | number } }>;
}

/** A local OTLP/HTTP (JSON) receiver keeping every `authorization` span's duration and Cedar time, in ms. */
async function spanReceiver() {
  const spans: Array<{ totalMs: number; cedarMs: number; auditMs: number }> = [];
  const records: number[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const doc = JSON.parse(body) as {
        resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
      };
      for (const s of doc.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((x) => x.spans))) {
        if (s.name === 'decision-record')
          records.push(Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1e6);
        if (s.name !== 'authorization') continue;
        const attr = (key: string) => {
          const v = s.attributes?.find((a) => a.key === key)?.value;
          return Number(v?.doubleValue ?? v?.intValue ?? NaN);
        };
        spans.push({
          totalMs: Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1e6,
          cedarMs: attr('carapace.cedar_ms'),
          auditMs: attr('carapace.audit_ms'),
        });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { spans, records, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`, server };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const r3 = (n: number) => Math.round(n * 1000) / 1000;

const receiver = await spanReceiver();
const dataDir = mkdtempSync(join(tmpdir(), 'carapace-bench-authz-'));
const [pub, gw, adm] = [await freePort(), await freePort(), await freePort()];
const env = serverEnv(
  dataDir,
  { pub, gw, adm },
  {
    DATABASE_URL: ENGINE === 'postgres' ? process.env.DATABASE_URL : '',
    CARAPACE_DATABASE_SCHEMA: ENGINE === 'postgres' ? `bench_authz_${process.pid}` : undefined,
    CARAPACE_TRACES_ENABLED: 'true',
    CARAPACE_TRACES_ENDPOINT: receiver.url,
    CARAPACE_TRACES_EXPORT_INTERVAL: '0.2',
    CARAPACE_OUTBOUND_OTLP_ALLOW_LOOPBACK_HTTP: 'true',
  },
);
writeFileSync(join(dataDir, 'bench.yaml'), scenario());
await carapace(['migrate'], env);
await carapace(['seed', join(dataDir, 'bench.yaml')], env);
const server = await serve(env);
try {
  const ca = readFileSync(join(dataDir, 'pki', 'ca.pem'), 'utf8');
  const ben = await CarapaceClient.create({
    baseUrl: `https://localhost:${pub}`,
    ca,
    clientId: 'carapace-owner-app',
    redirectUri: 'http://127.0.0.1/callback',
  });
  await ben.login({
    email: 'ben@bench.example',
    password: 'bench-password-123',
    scopes: ['openid', 'vehicle:read_status'],
  });
  const list = await ben.api('GET', '/v1/vehicles');
  const vehicles = ((list.json as { vehicles: Array<{ id: string }> }).vehicles ?? []).map((v) => v.id);
  if (vehicles.length === 0) throw new Error(`no vehicles listed: ${list.status} ${list.text}`);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        const i = next++;
        const res = await ben.api('GET', `/v1/vehicles/${vehicles[i % vehicles.length] as string}/status`);
        if (res.status !== 200) throw new Error(`request ${i}: ${res.status} ${res.text}`);
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  // The exporter sends in batches: wait until every request's span has arrived.
  for (let i = 0; i < 100 && receiver.spans.length < REQUESTS + 1; i++) await new Promise((r) => setTimeout(r, 100));
  const measured = receiver.spans.slice(-REQUESTS);
  const total = measured.map((s) => s.totalMs);
  const cedar = measured.map((s) => s.cedarMs);
  const audit = measured.map((s) => s.auditMs);
  const record = receiver.records.slice(-REQUESTS);
  const figures = {
    engine: ENGINE,
    requests: measured.length,
    requestsPerSecond: Math.round(REQUESTS / wall),
    authorizationP50Ms: r3(pct(total, 50)),
    authorizationP99Ms: r3(pct(total, 99)),
    cedarP50Ms: r3(pct(cedar, 50)),
    cedarP99Ms: r3(pct(cedar, 99)),
    auditWriteP50Ms: r3(pct(audit, 50)),
    auditWriteP99Ms: r3(pct(audit, 99)),
    decisionRecordP50Ms: r3(pct(record, 50)),
    decisionRecordP99Ms: r3(pct(record, 99)),
    ratioP50: r3(pct(total, 50) / Math.max(pct(cedar, 50), 1e-6)),
  };
  process.stdout.write(
    `${ENGINE}: authorization p50 ${figures.authorizationP50Ms} ms, p99 ${figures.authorizationP99Ms} ms ` +
      `(Cedar alone p50 ${figures.cedarP50Ms} ms, p99 ${figures.cedarP99Ms} ms; decision audit write p50 ` +
      `${figures.auditWriteP50Ms} ms, p99 ${figures.auditWriteP99Ms} ms inside it; the read's decision record, ` +
      `written beside the handler, p50 ${figures.decisionRecordP50Ms} ms, p99 ${figures.decisionRecordP99Ms} ms); ` +
      `${figures.requestsPerSecond} req/s\n`,
  );
  process.stdout.write(`${JSON.stringify(figures)}\n`);
} finally {
  await stop(server);
  receiver.server.close();
  rmSync(dataDir, { recursive: true, force: true });
}
