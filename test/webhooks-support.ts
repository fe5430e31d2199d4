import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { CarapaceClient, type ClientResponse, ServiceSession } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import type { OutboundInjection } from '../src/outbound/index.js';
import { readScenario } from '../src/server/index.js';
import { caCertificate, leafCertificate, type TestCarapace } from '../src/testing/index.js';

const scenario = readScenario('scenarios/demo.yaml');

/** Anything that calls the public API. */
export type Caller = {
  api(method: string, path: string, body?: unknown, h?: Record<string, string>): Promise<ClientResponse>;
};

/** One request a receiver got: its headers and raw body. */
export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A real HTTPS receiver on loopback, under a name the test resolver maps there. */
export interface Receiver {
  url(path: string): string;
  received: Received[];
  /** How requests are answered: a status, 'hang' (never), 'hold' (recorded, answered later), 'reset' (cut off). */
  answer: (path: string) => number | 'hang' | 'hold' | 'reset';
  /** Answers every held request with `status`. */
  release(status: number): void;
  /** Requests held so far. */
  held: number;
  close(): Promise<void>;
}

/** The receivers' CA, and the outbound injection that trusts it and treats loopback as the internet. */
export async function receiverPki(): Promise<{
  ca: string;
  cert: string;
  key: string;
  injection: OutboundInjection;
}> {
  const ca = await caCertificate({ name: 'CN=Webhook Receivers Test CA' });
  const leaf = await leafCertificate({ issuer: ca, subject: 'CN=hooks.example.test', server: ['hooks.example.test'] });
  const caPem = ca.cert.toString('pem');
  return {
    ca: caPem,
    cert: leaf.pem,
    key: leaf.key.pem,
    injection: {
      ca: [caPem],
      testPublicCidrs: ['127.0.0.0/8'],
      resolver: async (host) =>
        host === 'hooks.example.test' || host.endsWith('.hooks.example.test')
          ? [{ address: '127.0.0.1', family: 4 }]
          : [],
    },
  };
}

/** Starts a receiver that records every request and answers 200 unless told otherwise. */
export async function startReceiver(tls: { cert: string; key: string }): Promise<Receiver> {
  const received: Received[] = [];
  const hanging = new Set<ServerResponse>();
  const parked: ServerResponse[] = [];
  const r: Receiver = {
    release: (status) => {
      for (const res of parked.splice(0)) res.writeHead(status).end();
    },
    get held() {
      return parked.length;
    },
    url: (path) => `https://hooks.example.test:${(server.address() as AddressInfo).port}${path}`,
    received,
    answer: () => 200,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const how = r.answer(path);
      if (how === 'reset') {
        req.socket.destroy();
        return;
      }
      if (how === 'hang') {
        hanging.add(res);
        return;
      }
      received.push({ path, headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString() });
      if (how === 'hold') parked.push(res);
      else res.writeHead(how).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return r;
}

/** Waits for a condition (bounded; never a wall-clock assertion). */
export async function until<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  tries = 600,
  explain?: () => Promise<string>,
): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await probe();
    if (v) return v;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`timed out waiting for ${what}${explain ? `: ${await explain()}` : ''}`);
}

/** Signs a demo persona in through the application their role uses (or a demo partner with its key). */
export async function signIn(cp: TestCarapace, key: string, clientId: string, scopes: string[]): Promise<Caller> {
  const base = cp.config.publicBaseUrl;
  const app = scenario.applications?.find((a) => a.clientId === key);
  if (app) {
    const jwk = JSON.parse(readFileSync(join(cp.config.dataDir, 'demo', `${key}.private.jwk.json`), 'utf8')) as JWK;
    return ServiceSession.create({ baseUrl: base, ca: cp.ca, clientId: key, privateJwk: jwk, scope: scopes.join(' ') });
  }
  const u = scenario.users.find((x) => x.key === key)!;
  const c = await CarapaceClient.create({
    baseUrl: base,
    ca: cp.ca,
    clientId,
    redirectUri: 'http://127.0.0.1/callback',
  });
  const totp = u.totp;
  await c.login({
    email: u.email,
    password: u.password,
    scopes: ['openid', ...scopes],
    ...(totp ? { totp: () => currentTotp(totp, new Date()) } : {}),
  });
  return c;
}

/** Ids of the demo's tenants and vehicles. */
export async function demoIds(cp: TestCarapace) {
  const db = cp.platform.storage.db;
  const tenants = await db.selectFrom('tenants').select(['id', 'name']).execute();
  const vehicles = await db.selectFrom('vehicles').select(['id', 'vin']).execute();
  const tenant = (name: string) => tenants.find((t) => t.name.startsWith(name))!.id;
  const vehicle = (vin: string) => vehicles.find((v) => v.vin === vin)!.id;
  return {
    northwind: tenant('Northwind'),
    contoso: tenant('Contoso'),
    chargenet: tenant('ChargeNet'),
    oem: tenant('Carapace Motors'),
    bobCar: vehicle('5YJ3E1EA7KF000002'),
    northwindVan: vehicle('1FTBW3XM5HKA00001'),
  };
}

/** Alice's demo car enrolled, streaming its state and answering commands over the channel, as a vehicle does. */
export async function connectedCar(cp: TestCarapace): Promise<{ carId: string; close(): void }> {
  const { GatewayClient, CommandChannel, EnvelopeVerifier, MemoryAnswerStore, MemoryCounterStore } =
    await import('../src/vehicle-sdk/index.js');
  const { MemorySequenceStore, TelemetrySigner, VehicleModel } = await import('../src/vehicle-sdk/index.js');
  const dir = join(cp.config.dataDir, 'factory', 'TCU-DEMO-0001');
  const device = new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca });
  const { issued, key } = await device.enroll({
    cert: readFileSync(join(dir, 'factory-cert.pem'), 'utf8'),
    key: readFileSync(join(dir, 'factory-key.pem'), 'utf8'),
  });
  const model = new VehicleModel();
  const signer = new TelemetrySigner({
    identity: { deviceId: issued.deviceId, vehicleId: issued.vehicleId, swVersion: '1', configId: 'c' },
    privateKeyPem: key.privateKeyPem,
    sequences: new MemorySequenceStore(),
  });
  await device.sendTelemetry(await Promise.all(model.telemetry().map((p) => signer.sign(p))));
  const verifier = new EnvelopeVerifier({
    counters: new MemoryCounterStore(),
    keys: issued.commandVerificationKeys.keys,
    vehicleId: issued.vehicleId,
    deviceId: issued.deviceId,
    trustAnchor: cp.ca,
  });
  const channel = new CommandChannel({
    answered: new MemoryAnswerStore(),
    gateway: device,
    verifier,
    execute: (c) => model.execute(c.command, c.params),
    reconnect: false,
  });
  await channel.connect();
  return {
    carId: issued.vehicleId,
    close: () => {
      channel.close();
      device.close();
    },
  };
}

/** Sends `lock` and waits until the job is final; its final state and the time it took (ms). */
export async function lockAndSettle(who: Caller, carId: string, key: string): Promise<{ state: string; ms: number }> {
  const start = performance.now();
  const r = await who.api('POST', `/v1/vehicles/${carId}/commands`, { command: 'lock' }, { 'idempotency-key': key });
  const id = (r.json as { id?: string }).id;
  if (!id) throw new Error(`lock refused: ${JSON.stringify(r.json)}`);
  const job = await until(`job ${id} final`, async () => {
    const j = (await who.api('GET', `/v1/vehicles/${carId}/commands/${id}`)).json as { final: boolean; state: string };
    return j.final ? j : null;
  });
  return { state: job.state, ms: performance.now() - start };
}
