/**
 * Fleet benchmark (issue 17: open command channels held by one process, memory per channel; a fleet reconnecting
 * after a gateway restart). In one run on this machine:
 * - baseline: a bare mTLS WebSocket server (bench/fleet-baseline-server.ts, its own process) holding BENCH_FLEET
 *   connections from the same certificates: resident memory per connection, and the time for all to come back after
 *   a kill -9 and restart when every client reconnects with the same backoff and jitter;
 * - carapace: `node bin/carapace.js serve` (bench/server.ts) holding BENCH_FLEET real command channels (mTLS, the
 *   certificate-bound command token, the dispatcher's attach, the audit event), the same figures, plus the fullest
 *   second of the reconnect, the 503s it shed and the channels closed for token expiry.
 * This process is the load generator. Units are enrolled through the pki module in-process first (the cheap fleet
 * setup of test/faults/fleet-setup.ts), then that process stops and the real server serves them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { freePort, startTestCarapace } from '../src/testing/index.js';
import {
  CommandChannel,
  EnvelopeVerifier,
  GatewayClient,
  MemoryAnswerStore,
  MemoryCounterStore,
  VehicleModel,
} from '../src/vehicle-sdk/index.js';
import { enrolledFleet, inParallel } from '../test/faults/fleet-setup.js';
import { dropSchema } from '../test/faults/server-process.js';
import { serve, serverEnv } from './server.js';
import { reconnectDelayMs } from '../src/vehicle-sdk/index.js';

const FLEET = Number(process.env.BENCH_FLEET ?? 2500);
const engine = process.env.DATABASE_URL ? 'postgres' : 'sqlite';

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const cpuMs = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};
async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  return check();
}
/** The share of `times` (ms) in their fullest one-second bucket after `from`. */
function fullestSecond(times: number[], from: number): number {
  const buckets = new Map<number, number>();
  for (const t of times)
    buckets.set(Math.floor((t - from) / 1000), (buckets.get(Math.floor((t - from) / 1000)) ?? 0) + 1);
  return times.length ? Math.max(...buckets.values()) / times.length : 0;
}
function killed(child: ChildProcess): Promise<void> {
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  return gone;
}

// Setup: the fleet enrolled in-process, the server's data directory and database kept for the real server.
const cp = await startTestCarapace({ database: engine, overrides: { detect: { enabled: false } } });
const { dataDir, database } = cp.config;
const serials = Array.from({ length: FLEET }, (_, i) => `TCU-BF-${String(i).padStart(5, '0')}`);
const fleet = await enrolledFleet(cp, serials);
const ca = cp.ca;
const { root, fleet: fleetCa } = cp.platform.pki.ctx.authorities;
writeFileSync(join(dataDir, 'bench-client-ca.pem'), `${root.pem}\n${fleetCa.pem}\n`);
await cp.close();
const [pub, gw, adm, bare] = [await freePort(), await freePort(), await freePort(), await freePort()];
const env = serverEnv(
  dataDir,
  { pub, gw, adm },
  {
    DATABASE_URL: database.url ?? '',
    CARAPACE_DATABASE_SCHEMA: database.schema,
    CARAPACE_DETECT_ENABLED: 'false',
    CARAPACE_MAX_CONNECTIONS: String(FLEET * 3),
    CARAPACE_MAX_CONNECTIONS_PER_ADDRESS: String(FLEET * 3),
  },
);

/** Baseline: bare WebSocket connections over mTLS, reconnecting with the SDK's backoff and jitter. */
async function baseline() {
  const args = [join(dataDir, 'pki', 'server-cert.pem'), join(dataDir, 'pki', 'server-key.pem')];
  const start = async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, 'fleet-baseline-server.ts'),
        String(bare),
        ...args,
        join(dataDir, 'bench-client-ca.pem'),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    return child;
  };
  let server = await start();
  const opens: number[] = [];
  let stopped = false;
  const sockets: (WebSocket | null)[] = new Array<WebSocket | null>(FLEET).fill(null);
  const open = (i: number, attempt = 0): Promise<void> =>
    new Promise((resolve) => {
      const s = fleet[i]!;
      const ws = new WebSocket(`wss://localhost:${bare}/`, { ca, cert: s.issued.certificate, key: s.privateKeyPem });
      ws.once('open', () => {
        sockets[i] = ws;
        opens.push(Date.now());
        resolve();
      });
      ws.once('error', () => undefined);
      ws.once('close', () => {
        if (sockets[i] === ws) sockets[i] = null;
        if (!stopped) setTimeout(() => void open(i, attempt + 1), reconnectDelayMs(attempt, 1000));
        resolve();
      });
    });
  const before = rssKb(server.pid!);
  await inParallel(
    fleet.map((_, i) => i),
    64,
    (i) => open(i),
  );
  await until(() => sockets.every(Boolean), 60_000);
  const perChannelKb = (rssKb(server.pid!) - before) / FLEET;
  await killed(server);
  server = await start();
  const ready = Date.now();
  const all = await until(() => sockets.every(Boolean), 120_000);
  const backMs = Date.now() - ready;
  const spread = fullestSecond(
    opens.filter((o) => o >= ready),
    ready,
  );
  stopped = true;
  sockets.forEach((s) => s?.terminate());
  await killed(server);
  return { perChannelKb, backMs: all ? backMs : null, fullestSecond: spread };
}

/** Carapace: real command channels through the SDK. */
async function carapace() {
  const opens: number[] = [];
  const closes = new Map<string, number>();
  let server = await serve(env);
  const channels = await Promise.all(
    fleet.map(async (stored) => {
      const gateway = new GatewayClient({ gatewayUrl: `https://localhost:${gw}`, ca });
      await gateway.resume(stored);
      const { issued } = stored;
      return new CommandChannel({
        gateway,
        verifier: new EnvelopeVerifier({
          keys: issued.commandVerificationKeys.keys,
          vehicleId: issued.vehicleId,
          deviceId: issued.deviceId,
          counters: new MemoryCounterStore(),
        }),
        answered: new MemoryAnswerStore(),
        execute: (c) => new VehicleModel().execute(c.command, c.params),
        onEvent: (e) => {
          if (e.kind === 'open') opens.push(Date.now());
          if (e.kind === 'closed') closes.set(`${e.code} ${e.reason}`, (closes.get(`${e.code} ${e.reason}`) ?? 0) + 1);
        },
      });
    }),
  );
  const isOpen = () => channels.every((c) => c.open);
  const [rss0, cpu0] = [rssKb(server.pid!), cpuMs(server.pid!)];
  // The first connection of each: retried by the channel's own reconnect (backoff, Retry-After) if refused.
  await inParallel(channels, 64, (c) => c.connect().catch(() => c.close()));
  for (const c of channels) if (!c.open) void c.connect().catch(() => undefined);
  await until(isOpen, 120_000);
  const perChannelKb = (rssKb(server.pid!) - rss0) / FLEET;
  const openCpuMsPerChannel = (cpuMs(server.pid!) - cpu0) / FLEET;
  const heldRssMb = rssKb(server.pid!) / 1024;
  await killed(server);
  server = await serve(env);
  const ready = Date.now();
  const cpu1 = cpuMs(server.pid!);
  const all = await until(isOpen, 180_000);
  const backMs = Date.now() - ready;
  const reconnectCpuMsPerChannel = (cpuMs(server.pid!) - cpu1) / FLEET;
  const spread = fullestSecond(
    opens.filter((o) => o >= ready),
    ready,
  );
  channels.forEach((c) => c.close());
  await killed(server);
  let expired = 0;
  let busy = 0;
  for (const [k, n] of closes) {
    if (k.startsWith('4401 ')) expired += n;
    if (k === '1006 gateway busy') busy += n;
  }
  return {
    perChannelKb,
    heldRssMb,
    openCpuMsPerChannel,
    reconnectCpuMsPerChannel,
    backMs: all ? backMs : null,
    fullestSecond: spread,
    closedForTokenExpiry: expired,
    busyRefusals: busy,
  };
}

try {
  const base = await baseline();
  const ours = await carapace();
  const ratio = (a: number | null, b: number | null) => (a !== null && b ? Math.round((a / b) * 100) / 100 : null);
  process.stdout.write(
    `${JSON.stringify({
      engine,
      fleet: FLEET,
      baseline: base,
      carapace: ours,
      memoryPerChannelRatio: ratio(ours.perChannelKb, base.perChannelKb),
      reconnectTimeRatio: ratio(ours.backMs, base.backMs),
    })}\n`,
  );
} finally {
  rmSync(dataDir, { recursive: true, force: true });
  await dropSchema(database.url, database.schema);
}
