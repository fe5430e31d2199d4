import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceNetwork } from '../src/gateway/index.js';
import {
  foreignCa,
  signLeaf,
  startTestCarapace,
  type TestCarapace,
  testEngines,
  testKey,
} from '../src/testing/index.js';

/** Resolves once the server has counted `n` more failures; a bounded poll, no fixed sleep. */
async function counted(cp: TestCarapace, n: number): Promise<void> {
  for (let i = 0; i < 500 && cp.listeners.handshakes.pending() < n; i++) await new Promise((r) => setTimeout(r, 10));
  expect(cp.listeners.handshakes.pending()).toBe(n);
}

/** A TLS connection attempt that ends one way or another: what the client saw. */
function attempt(port: number, options: ConnectionOptions): Promise<'connected' | 'failed'> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ...options }, () => {
      s.end();
      resolve('connected');
    });
    s.on('error', () => resolve('failed'));
  });
}

/** Bytes that are no TLS: plain HTTP, or noise. The server drops the connection. */
function garbage(port: number, bytes: string | Buffer = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'): Promise<void> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port }, () => s.write(bytes));
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
}

const portOf = (url: string) => Number(new URL(url).port);

// A failed handshake is counted per source network in the listener and audited once per interval as one bounded
// aggregate, never once per handshake: real TLS clients fail on the real listeners.
describe.each(testEngines())('failed TLS handshakes are audited as aggregates (%s)', (database) => {
  let cp: TestCarapace;

  beforeAll(async () => {
    // The interval timer never fires within the test: it flushes by hand.
    cp = await startTestCarapace({ database, overrides: { tls: { handshakeFailureInterval: 3600 } } });
  }, 120_000);
  afterAll(async () => cp?.stop());

  it('counts noise, a too-old protocol and a client that distrusts the server; audits one event', async () => {
    await cp.listeners.handshakes.flush();
    const gateway = portOf(cp.addresses.gateway);
    await garbage(gateway);
    await garbage(gateway, Buffer.from('00010203040506070809', 'hex'));
    expect(
      await attempt(gateway, { ca: cp.ca, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
    ).toBe('failed');
    // A client holding another CA refuses our certificate and aborts the handshake with an alert.
    const other = await foreignCa('CN=Somebody Else');
    expect(await attempt(gateway, { ca: other.cert.toString('pem') })).toBe('failed');
    await counted(cp, 4);
    await cp.listeners.handshakes.flush();
    expect(cp.listeners.handshakes.pending()).toBe(0);

    const events = await cp.platform.audit.list({ type: 'gateway.tls.handshake_failed', limit: 10 });
    expect(events).toHaveLength(1);
    const [e] = events;
    expect(e).toMatchObject({
      decision: 'deny',
      object: { type: 'listener', id: 'gateway' },
      context: { sourceIp: '127.0.0.0' },
      details: { listener: 'gateway', network: '127.0.0.0/24', count: 4, intervalSeconds: 3600 },
    });
    const reasons = e!.details.reasons as string[];
    expect(reasons.length).toBeGreaterThanOrEqual(2);
    expect(reasons.reduce((n, r) => n + Number(r.split(':').pop()), 0)).toBe(4);
    // Nothing failed since: the next flush writes nothing.
    await cp.listeners.handshakes.flush();
    expect(await cp.platform.audit.list({ type: 'gateway.tls.handshake_failed', limit: 10 })).toHaveLength(1);
  });

  it('counts the public listener apart from the gateway', async () => {
    await cp.listeners.handshakes.flush();
    const before = (await cp.platform.audit.list({ type: 'gateway.tls.handshake_failed', limit: 100 })).length;
    await garbage(portOf(cp.addresses.public));
    await counted(cp, 1);
    await cp.listeners.handshakes.flush();
    const [e] = await cp.platform.audit.list({ type: 'gateway.tls.handshake_failed', limit: 1 });
    expect(e).toMatchObject({ object: { id: 'public' }, details: { listener: 'public', count: 1 } });
    expect((await cp.platform.audit.list({ type: 'gateway.tls.handshake_failed', limit: 100 })).length).toBe(
      before + 1,
    );
  });

  it('does not count a foreign or missing client certificate: the gateway refuses those per request', async () => {
    await cp.listeners.handshakes.flush();
    const evil = await foreignCa();
    const key = await testKey();
    const cert = await signLeaf({ issuer: evil.cert, issuerKey: evil.key.pair.privateKey, subjectKey: key });
    const gateway = portOf(cp.addresses.gateway);
    expect(await attempt(gateway, { ca: cp.ca, cert, key: key.pem })).toBe('connected');
    expect(await attempt(gateway, { ca: cp.ca })).toBe('connected');
    // These are judged per request by the gateway (gateway.request.refused), with the certificate's details.
    expect(cp.listeners.handshakes.pending()).toBe(0);
  });

  it('bounds the events per interval whatever the number of networks', async () => {
    await cp.listeners.handshakes.flush();
    const before = (await cp.platform.audit.list({ type: 'gateway.tls.handshake_failed', limit: 1000 })).length;
    const boom = Object.assign(new Error('x'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' });
    for (let i = 0; i < 300; i++) cp.listeners.handshakes.count('gateway', `198.51.${i % 256}.${i % 7}`, boom);
    for (let i = 0; i < 50; i++) cp.listeners.handshakes.count('gateway', '2001:db8:1:2::7', boom);
    await cp.listeners.handshakes.flush();
    const written = (await cp.platform.audit.list({ type: 'gateway.tls.handshake_failed', limit: 1000 })).slice(
      0,
      -before || undefined,
    );
    expect(written).toHaveLength(21);
    expect(written.reduce((n, e) => n + Number(e.details.count), 0)).toBe(350);
    expect(written.find((e) => e.details.network === '2001:db8:1:2::/64')).toMatchObject({
      details: { count: 50, reasons: ['wrong_version_number:50'] },
      context: { sourceIp: '2001:db8:1:2::' },
    });
    expect(written.filter((e) => e.details.network === 'other')).toHaveLength(1);
  });
});

describe('source networks', () => {
  it('renders IPv4 as its /24 and IPv6 as its /64', () => {
    expect(sourceNetwork('203.0.113.77')).toBe('203.0.113.0/24');
    expect(sourceNetwork('::ffff:203.0.113.77')).toBe('203.0.113.0/24');
    expect(sourceNetwork('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceNetwork('2001:0db8:00a0:0001:ffff::1')).toBe('2001:db8:a0:1::/64');
    expect(sourceNetwork(undefined)).toBeNull();
    expect(sourceNetwork('not-an-address')).toBeNull();
  });
});
