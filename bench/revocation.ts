/**
 * Revocation propagation benchmark: how long after an operator revokes a device on one node its certificate is
 * refused by another node, measured from the admin-plane revoke call to the first request the other node refuses.
 * Two `carapace serve` processes (started as `npm start` does) share one database (PostgreSQL when DATABASE_URL
 * is set, else one SQLite file) and one data directory (one key provider). Measured in one run:
 * - baseline: the same node (revocation applies in process, before the revoke call returns);
 * - without Redis: the other node learns it from the change log it reads every `pki.revocationPollInterval`;
 * - with Redis (when REDIS_URL is set): the other node is told at once over pub/sub.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropTestDatabase, freePort, testDatabaseSettings } from '../src/testing/index.js';
import { GatewayClient, httpsRequest } from '../src/vehicle-sdk/index.js';
import { carapace, serve, serverEnv, stop } from './server.js';

const ROUNDS = Number(process.env.BENCH_REVOCATIONS ?? 20);
const engine = process.env.DATABASE_URL ? 'postgres' : 'sqlite';
const redisUrl = process.env.REDIS_URL ?? '';
const database = testDatabaseSettings(engine);
const dataDir = mkdtempSync(join(tmpdir(), 'carapace-bench-rev-'));
const modes = ['same node', 'other node, no Redis', ...(redisUrl ? ['other node, Redis'] : [])];
const serials = Array.from({ length: ROUNDS * modes.length }, (_, i) => `TCU-REV-${i}`);
writeFileSync(
  join(dataDir, 'bench.yaml'),
  [
    'tenants:',
    '  - { key: oem, name: Bench OEM, kind: oem }',
    'users: []',
    'vehicles:',
    ...serials.map((s, i) => `  - { key: car-${i}, vin: 1REVKX${String(i).padStart(11, '0')}, tcuSerial: ${s} }`),
    '',
  ].join('\n'),
);
const pem = (...path: string[]) => readFileSync(join(dataDir, ...path), 'utf8');
const db = { DATABASE_URL: database.url ?? '', CARAPACE_DATABASE_SCHEMA: database.schema };

async function node(redis: string) {
  const ports = { pub: await freePort(), gw: await freePort(), adm: await freePort() };
  const child = await serve(serverEnv(dataDir, ports, { ...db, REDIS_URL: redis }));
  return { child, ports };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Revokes a unit through `revoker`'s admin plane; resolves with ms until `watcher`'s gateway refuses it. */
async function propagation(serial: string, revoker: number, watcher: number): Promise<number> {
  const ca = pem('pki', 'ca.pem');
  const client = new GatewayClient({ gatewayUrl: `https://localhost:${watcher}`, ca });
  await client.enroll({
    cert: pem('factory', serial, 'factory-cert.pem'),
    key: pem('factory', serial, 'factory-key.pem'),
  });
  const { key, issued } = client.credentials!;
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const probe = () =>
    httpsRequest(`https://localhost:${watcher}/v1/devices/${issued.deviceId}`, {
      ca,
      cert: issued.certificate,
      key: key.privateKeyPem,
      agent,
    }).then(
      (r) => r.status,
      () => 0,
    );
  if ((await probe()) !== 200) throw new Error('the enrolled unit is not served');
  // A random phase against the other node's poll timer, so sequential rounds do not lock onto one point of it.
  await new Promise((r) => setTimeout(r, Math.random() * 1000));
  const t0 = performance.now();
  const revoked = httpsRequest(`https://localhost:${revoker}/admin/v1/revocations`, {
    method: 'POST',
    ca,
    cert: pem('pki', 'operator', 'admin-cert.pem'),
    key: pem('pki', 'operator', 'admin-key.pem'),
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ deviceId: issued.deviceId, reason: 'keyCompromise' }),
  });
  // A request accepted before the revocation committed is not a late refusal: wait for the call to return first
  // only on the revoking node, where the revocation applies before the call answers.
  if (revoker === watcher) await revoked;
  while ((await probe()) === 200) await new Promise((r) => setTimeout(r, 2));
  const ms = performance.now() - t0;
  await revoked;
  agent.destroy();
  client.close();
  return ms;
}

const env = serverEnv(dataDir, { pub: 0, gw: 0, adm: 0 }, db);
await carapace(['migrate'], env);
await carapace(['seed', join(dataDir, 'bench.yaml')], env);
const results: Record<string, number[]> = {};
let next = 0;
try {
  for (const mode of modes) {
    const redis = mode.endsWith('Redis') && !mode.includes('no Redis') ? redisUrl : '';
    const a = await node(redis);
    const b = mode === 'same node' ? a : await node(redis);
    try {
      const list: number[] = [];
      for (let i = 0; i < ROUNDS; i++) list.push(await propagation(serials[next++]!, a.ports.adm, b.ports.gw));
      results[mode] = list;
    } finally {
      await stop(a.child);
      if (b !== a) await stop(b.child);
    }
  }
} finally {
  await dropTestDatabase(database);
  rmSync(dataDir, { recursive: true, force: true });
}
const row = (mode: string) => {
  const list = results[mode] ?? [];
  return { p50: Number(percentile(list, 50).toFixed(1)), max: Number(Math.max(...list).toFixed(1)) };
};
const figures = {
  benchmark: 'revocation',
  engine,
  node: process.version,
  rounds: ROUNDS,
  ...Object.fromEntries(modes.map((m) => [m, row(m)])),
  noRedisToSameNodeRatioP50: Number((row(modes[1]!).p50 / row(modes[0]!).p50).toFixed(1)),
};
for (const m of modes) process.stdout.write(`${m}: revoke -> refused p50 ${row(m).p50} ms, max ${row(m).max} ms\n`);
process.stdout.write(`${JSON.stringify(figures)}\n`);
