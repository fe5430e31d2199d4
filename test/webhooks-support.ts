import { readFileSync } from 'node:fs';
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
  const hanging = new Set<import('node:http').ServerResponse>();
  const parked: import('node:http').ServerResponse[] = [];
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
