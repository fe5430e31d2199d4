import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type Config, loadConfig } from '../config/index.js';
import type { Clock } from '../platform/index.js';
import { createLogger } from '../platform/index.js';
import type { OutboundInjection } from '../outbound/index.js';
import { startCarapace, type RunningCarapace } from '../server/index.js';
import { GatewayClient } from '../vehicle-sdk/index.js';

/** A Carapace running on ephemeral ports in a throwaway data directory (and PostgreSQL schema). */
export interface TestCarapace extends RunningCarapace {
  config: Config;
  /** PEM of the root CA: what clients trust. */
  ca: string;
  operatorTls: { cert: string; key: string };
  /** Provisions a unit through the real manufacturing path and returns its factory credentials. */
  factoryUnit(
    tcuSerial: string,
    vin?: string,
  ): Promise<{ deviceId: string; vehicleId: string; cert: string; key: string }>;
  /** Provisions and enrolls a unit; returns the device client holding operational credentials. */
  enrolledDevice(tcuSerial: string, keyAlgorithm?: 'Ed25519' | 'P-256'): Promise<GatewayClient>;
  /** Stops and starts again on the same data, database and ports (a process restart). */
  restart(): Promise<TestCarapace>;
  stop(): Promise<void>;
}

let seq = 0;

// Ports the kernel hands out for port 0 come from the ephemeral range (32768-60999 on Linux), the same range it
// draws outgoing connections' source ports from: a port found free that way can be taken by a PostgreSQL or Redis
// client socket before the listener binds it. Test ports therefore come from below that range, in a block of its
// own per Vitest worker, and are checked by binding before they are handed out.
const PORT_FLOOR = 20000;
const PORT_BLOCK = 1000;
const PORT_BLOCKS = 12;
const handedOut = new Set<number>();
let nextInBlock = Math.floor(Math.random() * PORT_BLOCK);

function portBlockStart(): number {
  const worker = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? process.pid);
  return PORT_FLOOR + (worker % PORT_BLOCKS) * PORT_BLOCK;
}

async function bindable(port: number): Promise<boolean> {
  const server = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) await new Promise<void>((resolve) => server.close(() => resolve()));
  return ok;
}

/** A free TCP port on loopback outside the ephemeral range (the issuer URL must name it before listeners start). */
export async function freePort(): Promise<number> {
  const start = portBlockStart();
  for (let tried = 0; tried < PORT_BLOCK; tried++) {
    const port = start + (nextInBlock++ % PORT_BLOCK);
    if (handedOut.has(port)) continue;
    if (await bindable(port)) {
      handedOut.add(port);
      return port;
    }
  }
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts Carapace for a test on SQLite, or on PostgreSQL when `database` is 'postgres'. */
export async function startTestCarapace(
  options: {
    database: 'sqlite' | 'postgres';
    clock?: Clock;
    overrides?: Record<string, unknown>;
    /** Test-only parts of the outbound layer: a resolver, trusted CAs, addresses treated as public. */
    outbound?: OutboundInjection;
  } = {
    database: 'sqlite',
  },
): Promise<TestCarapace> {
  const dataDir = mkdtempSync(join(tmpdir(), 'carapace-e2e-'));
  const url = options.database === 'postgres' ? (process.env.DATABASE_URL ?? null) : null;
  if (options.database === 'postgres' && !url) throw new Error('DATABASE_URL is not set');
  const schema = `e2e_${process.pid}_${Date.now().toString(36)}_${seq++}`;
  const [publicPort, gatewayPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  const config = loadConfig({
    overrides: {
      dataDir,
      publicBaseUrl: `https://localhost:${publicPort}`,
      database: { url, schema },
      log: { level: 'silent' },
      seedDemo: false,
      listeners: {
        public: { host: '127.0.0.1', port: publicPort },
        gateway: { host: '127.0.0.1', port: gatewayPort },
        admin: { host: '127.0.0.1', port: adminPort },
      },
      ...options.overrides,
    },
  });
  let running = await startCarapace(config, {
    log: createLogger('silent'),
    clock: options.clock,
    outbound: options.outbound,
  });
  const ca = running.platform.pki.ctx.authorities.root.pem;
  const operatorFiles = running.operator;
  if (!operatorFiles) throw new Error('development operator missing');
  const operatorTls = {
    cert: readFileSync(operatorFiles.certFile, 'utf8'),
    key: readFileSync(operatorFiles.keyFile, 'utf8'),
  };
  const pki = () => running.platform.pki;

  const factoryUnit: TestCarapace['factoryUnit'] = async (tcuSerial, vin) => {
    const issued = await pki().issueFactoryCertificate({
      tcuSerial,
      csrPem: null,
      binding: vin ? { vin } : { newVehicle: true },
      actor: { type: 'system', id: null },
    });
    if (!issued.device || !issued.privateKeyPem) throw new Error('factory unit not provisioned');
    return {
      deviceId: issued.device.id,
      vehicleId: issued.device.vehicle_id,
      cert: issued.certificatePem,
      key: issued.privateKeyPem,
    };
  };

  // The public API answers only for its public URL (a forged Host gets 421), so tests reach it there, as clients
  // of a real deployment do; the other listeners have no public name and are reached at their address.
  const reachable = (r: RunningCarapace) => ({ ...r.addresses, public: config.publicBaseUrl.replace(/\/$/, '') });
  const self: TestCarapace = {
    ...running,
    addresses: reachable(running),
    config,
    ca,
    operatorTls,
    factoryUnit,
    async enrolledDevice(tcuSerial, keyAlgorithm = 'Ed25519') {
      const unit = await factoryUnit(tcuSerial);
      const client = new GatewayClient({ gatewayUrl: running.addresses.gateway, ca, keyAlgorithm });
      await client.enroll(unit);
      return client;
    },
    async restart() {
      await running.close();
      running = await startCarapace(config, {
        log: createLogger('silent'),
        clock: options.clock,
        outbound: options.outbound,
      });
      Object.assign(self, running, { addresses: reachable(running) });
      return self;
    },
    async stop() {
      await running.close();
      if (url) {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => c.end());
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return self;
}

/** The engines to run end-to-end tests on: SQLite always, PostgreSQL when DATABASE_URL is set. */
export function testEngines(): Array<'sqlite' | 'postgres'> {
  return process.env.DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
}

/**
 * A second node of `first`'s deployment (same database, Redis, data directory and public URL), on listeners of
 * its own: what cluster tests drive beside the first node. `overrides` change its configuration only.
 */
export async function startPeer(
  first: TestCarapace,
  overrides: Record<string, unknown> = {},
): Promise<RunningCarapace> {
  const [pub, gw, adm] = [await freePort(), await freePort(), await freePort()];
  const config = loadConfig({
    overrides: {
      ...first.config,
      seedDemo: false,
      ...overrides,
      listeners: {
        public: { host: '127.0.0.1', port: pub },
        gateway: { host: '127.0.0.1', port: gw },
        admin: { host: '127.0.0.1', port: adm },
      },
    },
  });
  return startCarapace(config, { log: createLogger('silent') });
}
