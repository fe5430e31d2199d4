/**
 * Shared parts of the outbound layer's end-to-end tests: a test CA and a server certificate for the names the
 * tests' DNS server hands out, real HTTPS receivers on loopback addresses, and a wait with a deadline.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { caCertificate, leafCertificate } from '../src/testing/index.js';

/** The test CA and one server certificate for every name and address the tests use. */
export async function receiverTls(names: string[]): Promise<{ ca: string; cert: string; key: string }> {
  const ca = await caCertificate({ name: 'CN=Outbound Test Root' });
  const leaf = await leafCertificate({ issuer: ca, subject: 'CN=receiver', server: names });
  return { ca: ca.cert.toString('pem'), cert: leaf.pem, key: leaf.key.pem };
}

/** A real HTTPS receiver on `host`; `handle` answers, and every request's headers are kept. */
export interface Receiver {
  port: number;
  host: string;
  requests: IncomingMessage['headers'][];
  /** Whether each request's client presented a certificate. */
  clientCerts: boolean[];
  close(): Promise<void>;
}

/** Starts a receiver on `host` (any 127.0.0.0/8 address is loopback on Linux), on `port` or an ephemeral one. */
export async function startReceiver(
  tls: { cert: string; key: string },
  host: string,
  handle: (req: IncomingMessage, res: ServerResponse) => void,
  port = 0,
  /** Asks every client for a certificate (to prove none is sent). */
  requestCert = false,
): Promise<Receiver> {
  const requests: IncomingMessage['headers'][] = [];
  const clientCerts: boolean[] = [];
  const sockets = new Set<Socket>();
  const options = { cert: tls.cert, key: tls.key, requestCert, rejectUnauthorized: false };
  const server: Server = createServer(options, (req, res) => {
    requests.push(req.headers);
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    clientCerts.push(Object.keys(peer).length > 0);
    handle(req, res);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(port, host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    host,
    requests,
    clientCerts,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Waits until `check` holds, failing after `ms` (conditions, never fixed sleeps). */
export async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function refusal(p: Promise<unknown>): Promise<{ code?: string; context: Record<string, unknown> }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string; context: Record<string, unknown> };
  }
  throw new Error('expected a refusal, got an answer');
}
