import { readdirSync } from 'node:fs';
import https from 'node:https';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCarapace, type TestCarapace } from '../../src/testing/index.js';
import { httpsRequest } from '../../src/vehicle-sdk/index.js';
import { eventually, within } from './waiting.js';

const LIMITS = {
  handshakeTimeoutMs: 1000,
  headersTimeoutMs: 1000,
  requestTimeoutMs: 1500,
  idleTimeoutMs: 1500,
  maxPerListener: 2000,
  maxPerAddress: 300,
  shutdownTimeoutMs: 1000,
};
const openFds = () => readdirSync('/proc/self/fd').length;

/** A raw TCP socket to `port`, resolved once connected; `closed` tells whether the server has closed it. */
async function rawSocket(port: number, localAddress = '127.0.0.1'): Promise<Socket & { closedByPeer: boolean }> {
  const socket = tcpConnect({ host: '127.0.0.1', port, localAddress }) as Socket & { closedByPeer: boolean };
  socket.closedByPeer = false;
  socket.on('error', () => undefined);
  socket.on('close', () => (socket.closedByPeer = true));
  socket.on('end', () => socket.destroy());
  await new Promise<void>((resolve) => socket.once('connect', resolve).once('close', () => resolve()));
  return socket;
}

/** The first bytes of a TLS ClientHello record that announces more than it sends: a handshake that never ends. */
const HALF_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);

describe('hostile connections on every listener (issue 18 item 2)', () => {
  let cp: TestCarapace;
  const ports = () => ({
    public: Number(new URL(cp.config.publicBaseUrl).port),
    gateway: cp.config.listeners.gateway.port,
    admin: cp.config.listeners.admin.port,
  });
  const readyz = (localAddress?: string) =>
    httpsRequest(`${cp.config.publicBaseUrl}/readyz`, {
      ca: cp.ca,
      agent: new https.Agent({ keepAlive: false, localAddress }),
    });
  const guards = () => [cp.listeners.public.guard, cp.listeners.gateway.guard, cp.listeners.admin.guard];

  beforeAll(async () => {
    cp = await startTestCarapace({
      database: 'sqlite',
      overrides: { detect: { enabled: false }, connections: LIMITS },
    });
  }, 120_000);
  afterAll(async () => cp?.stop());

  it('idle TCP and half-open TLS sockets are closed within the handshake timeout; no descriptor leaks', async () => {
    const fdsBefore = openFds();
    const sockets: Array<Socket & { closedByPeer: boolean }> = [];
    for (const port of Object.values(ports()))
      for (let i = 0; i < 120; i++) {
        const s = await rawSocket(port);
        if (i % 2) s.write(HALF_HELLO);
        sockets.push(s);
      }
    // While they hang, the node still answers.
    expect((await within(10_000, readyz())).status).toBe(200);
    expect(await eventually(async () => sockets.every((s) => s.closedByPeer), 15_000)).toBe(true);
    expect(await eventually(async () => guards().every((g) => g.open() === 0), 5000)).toBe(true);
    // Both ends are closed: the server kept no socket in CLOSE-WAIT (the leak was one per connection).
    expect(await eventually(async () => openFds() <= fdsBefore + 5, 5000)).toBe(true);
  });

  it('a TLS peer that never sends headers, trickles them, or stalls its body is disconnected', async () => {
    const tlsTo = (port: number) =>
      new Promise<{ socket: ReturnType<typeof tlsConnect>; closed: () => boolean }>((resolve, reject) => {
        let closed = false;
        const socket = tlsConnect({ host: '127.0.0.1', port, ca: cp.ca, servername: 'localhost' }, () =>
          resolve({ socket, closed: () => closed }),
        );
        socket.on('close', () => (closed = true));
        socket.on('error', reject);
        // Read what the server sends (a refusal, then its FIN); a paused socket would never see the end.
        socket.resume();
      });
    const silent = await tlsTo(ports().public);
    const trickle = await tlsTo(ports().public);
    trickle.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
    const dripping = setInterval(() => trickle.socket.writable && trickle.socket.write('X-Drip: 1\r\n'), 200);
    const stalled = await tlsTo(ports().admin);
    stalled.socket.write('POST /admin/v1/revocations HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n{');
    const kept = await tlsTo(ports().public);
    kept.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const answered = new Promise<string>((resolve) => kept.socket.once('data', (d: Buffer) => resolve(String(d))));
    try {
      expect(await within(10_000, answered)).toMatch(/^HTTP\/1\.1 200/);
      // Kept alive after its answer, then closed once idle; the others at their phase's deadline.
      const all = [silent, trickle, stalled, kept];
      await eventually(async () => all.every((c) => c.closed()), 10_000);
      expect(all.map((c) => c.closed())).toEqual([true, true, true, true]);
    } finally {
      clearInterval(dripping);
      for (const c of [silent, trickle, stalled, kept]) c.socket.destroy();
    }
  });

  it('caps connections per source address; another address is still served', async () => {
    const port = ports().public;
    const sockets: Array<Socket & { closedByPeer: boolean }> = [];
    for (let i = 0; i < LIMITS.maxPerAddress + 20; i++) sockets.push(await rawSocket(port));
    // Those beyond the cap are closed at once (well before any timeout).
    expect(await eventually(async () => sockets.filter((s) => s.closedByPeer).length >= 20, 800)).toBe(true);
    expect(cp.listeners.public.guard.open()).toBeLessThanOrEqual(LIMITS.maxPerAddress);
    expect((await within(10_000, readyz('127.0.0.2'))).status).toBe(200);
    for (const s of sockets) s.destroy();
  });

  it('a shutdown ends, and closes what is left, with a handshake left hanging', async () => {
    const stuck = await rawSocket(ports().admin);
    stuck.write(HALF_HELLO);
    const started = Date.now();
    await cp.restart();
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(stuck.closedByPeer).toBe(true);
    expect((await readyz()).status).toBe(200);
  });
});
