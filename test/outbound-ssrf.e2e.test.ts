import type { AddressInfo } from 'node:net';
import { createServer } from 'node:http';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../src/audit/index.js';
import { resolverLookup } from '../src/outbound/index.js';
import { createLogger, systemClock } from '../src/platform/index.js';
import { startDnsServer, testDatabases, testOutbound, type TestDnsServer } from '../src/testing/index.js';
import { type Receiver, receiverTls, refusal, startReceiver } from './outbound-support.js';

// Names the tests' own DNS server answers, one per forbidden range (A and AAAA), and names mixing a public-looking
// address with a forbidden one. No test connects to a public address: the refusal comes before any connection.
const FORBIDDEN_A: Record<string, string> = {
  'rfc1918-10.test': '10.0.0.1',
  'rfc1918-172.test': '172.16.5.4',
  'rfc1918-192.test': '192.168.1.1',
  'cgnat.test': '100.64.0.1',
  'this-network.test': '0.0.0.1',
  'loopback.test': '127.0.0.1',
  'metadata.test': '169.254.169.254',
  'link-local.test': '169.254.10.10',
  'multicast.test': '224.0.0.251',
  'broadcast.test': '255.255.255.255',
  'benchmarking.test': '198.18.0.1',
  'documentation.test': '192.0.2.10',
  'reserved.test': '240.0.0.1',
};
const FORBIDDEN_AAAA: Record<string, string> = {
  'v6-loopback.test': '::1',
  'v6-unspecified.test': '::',
  'v6-link-local.test': 'fe80::1',
  'v6-ula.test': 'fc00::1',
  'v6-metadata.test': 'fd00:ec2::254',
  'v6-multicast.test': 'ff02::1',
  'v6-mapped.test': '::ffff:169.254.169.254',
  'v6-nat64.test': '64:ff9b::a9fe:a9fe',
  'v6-compatible.test': '::a9fe:a9fe',
  'v6-6to4.test': '2002:a9fe:a9fe::1',
  'v6-teredo.test': '2001::1',
  'v6-documentation.test': '2001:db8::1',
};
const MIXED: Record<string, string[]> = {
  'mixed-a.test': ['93.184.215.14', '10.0.0.1'],
  'mixed-a-aaaa.test': ['93.184.215.14', '::1'],
};

/** Literal forms: what the WHATWG URL parser hands the check, and the reason the layer gives. */
const LITERALS: Array<[url: string, address: string | null, reason: string]> = [
  ['https://2852039166/', '169.254.169.254', 'metadata'],
  ['https://0251.0376.0251.0376/', '169.254.169.254', 'metadata'],
  ['https://0xa9fea9fe/', '169.254.169.254', 'metadata'],
  ['https://169.254.43518/', '169.254.169.254', 'metadata'],
  ['https://169.254.169.254./', '169.254.169.254', 'metadata'],
  ['https://%31%32%37.0.0.1/', '127.0.0.1', 'loopback'],
  ['https://0x7f.1/', '127.0.0.1', 'loopback'],
  ['https://127.1/', '127.0.0.1', 'loopback'],
  ['https://0.0.0.0/', '0.0.0.0', 'unspecified'],
  ['https://[::]/', '::', 'unspecified'],
  ['https://[::ffff:169.254.169.254]/', '::ffff:a9fe:a9fe', 'metadata'],
  ['https://[::ffff:127.0.0.1]/', '::ffff:7f00:1', 'ipv4Mapped'],
  ['https://[64:ff9b::169.254.169.254]/', '64:ff9b::a9fe:a9fe', 'rfc6052'],
  ['https://[fd00:ec2::254]/', 'fd00:ec2::254', 'metadata'],
  ['https://[fe80::1%25eth0]/', null, 'invalid_url'],
  ['https://10.1.2.3:8443/', '10.1.2.3', 'private'],
  ['http://public.test/', null, 'scheme'],
  ['ftp://public.test/', null, 'scheme'],
  ['https://user:pass@public.test/', null, 'userinfo'],
];

// The WHATWG URL parser's form of an address, to compare answers however c-ares wrote them.
const norm = (a: string) => (a.includes(':') ? new URL(`http://[${a}]/`).hostname : a);
const same = (a: string, b: string) => norm(a) === norm(b);
const ALL_NAMES = [...Object.keys(FORBIDDEN_A), ...Object.keys(FORBIDDEN_AAAA), ...Object.keys(MIXED)];

describe.each(testDatabases())('outbound SSRF rules with a real DNS server ($name)', (engine) => {
  let storage: Awaited<ReturnType<typeof engine.open>>;
  let dns: TestDnsServer;
  let tls: Awaited<ReturnType<typeof receiverTls>>;
  let rebindAnswers = 0;
  let checked: Receiver;
  let rebound: Receiver;

  beforeAll(async () => {
    storage = await engine.open();
    tls = await receiverTls(['public.test', 'rebind.test', 'localhost', ...ALL_NAMES]);
    dns = await startDnsServer((name) => {
      if (name === 'public.test') return ['127.0.0.2'];
      if (name === 'localhost') return ['127.0.0.1'];
      // The rebinding name: a public-looking (test-public) address for the check, then loopback.
      if (name === 'rebind.test') return rebindAnswers++ < 2 ? ['127.0.0.2'] : ['127.0.0.1'];
      const one = FORBIDDEN_A[name] ?? FORBIDDEN_AAAA[name];
      return one ? [one] : (MIXED[name] ?? null);
    });
    // Two real receivers on one port: the checked address (127.0.0.2) and the one DNS rebinds to (127.0.0.1).
    checked = await startReceiver(tls, '127.0.0.2', (_req, res) => res.writeHead(200).end('checked address'));
    rebound = await startReceiver(tls, '127.0.0.1', (_req, res) => res.writeHead(200).end('rebound'), checked.port);
  });
  afterAll(async () => {
    await checked.close();
    await rebound.close();
    await dns.close();
    await storage.close();
  });

  // 127.0.0.2 stands for an internet address: the test-only list (refused in production) treats it as public.
  const layer = () =>
    testOutbound(storage.db, {
      inject: { resolver: resolverLookup(dns.resolver()), ca: [tls.ca], testPublicCidrs: ['127.0.0.2/32'] },
    });
  const blockedEvents = () =>
    createAuditLog({ db: storage.db, clock: systemClock }).list({ type: 'outbound.blocked', limit: 1000 });

  it('refuses every literal and encoded form of a forbidden address, as the URL parser normalizes it', async () => {
    const outbound = layer();
    const asked = dns.queries.length;
    for (const [url, address, reason] of LITERALS) {
      const err = await refusal(outbound.send({ purpose: 'siem', url, method: 'GET' }));
      expect(err.code, url).toBe('ERR_OUTBOUND_BLOCKED');
      expect(err.context, url).toMatchObject({ reason, address: address ?? null });
    }
    // Literals are judged as written: none of them was looked up.
    expect(dns.queries.length).toBe(asked);
  });

  it('refuses names resolving to any forbidden range (A or AAAA) or to one bad address among good', async () => {
    const outbound = layer();
    const cases = {
      ...FORBIDDEN_A,
      ...FORBIDDEN_AAAA,
      ...Object.fromEntries(Object.entries(MIXED).map(([n, a]) => [n, a[1]!])),
    };
    for (const [name, address] of Object.entries(cases)) {
      const err = await refusal(outbound.send({ purpose: 'webhook', url: `https://${name}/hook`, method: 'POST' }));
      expect(err.code, name).toBe('ERR_OUTBOUND_BLOCKED');
      // The resolver's text form is what was judged (c-ares may write a mapped address either way).
      expect(same(String(err.context.address), address), name).toBe(true);
      expect(err.context.host, name).toBe(name);
    }
    expect(checked.requests.length + rebound.requests.length).toBe(0);
  });

  it('connects to the checked address: DNS rebinding to loopback after the check never reaches it', async () => {
    const outbound = layer();
    rebindAnswers = 0;
    const res = await outbound.send({ purpose: 'webhook', url: `https://rebind.test:${checked.port}/`, method: 'GET' });
    expect(res.body.toString()).toBe('checked address');
    expect(res.address).toBe('127.0.0.2');
    expect(checked.requests.at(-1)?.host).toBe(`rebind.test:${checked.port}`);
    // The DNS server now answers loopback: a second resolution by anyone would reach the other listener...
    expect(await dns.resolver().resolve4('rebind.test')).toEqual(['127.0.0.1']);
    // ...and the layer, resolving afresh for the next call, judges that answer and refuses it.
    const err = await refusal(
      outbound.send({ purpose: 'webhook', url: `https://rebind.test:${checked.port}/`, method: 'GET' }),
    );
    expect(err.context).toMatchObject({ reason: 'loopback', address: '127.0.0.1' });
    expect(rebound.requests).toHaveLength(0);
  });

  it('checks a URL at registration time by what its name resolves to now', async () => {
    const outbound = layer();
    expect((await outbound.checkUrl(`https://public.test:${checked.port}/hooks`, 'webhook')).hostname).toBe(
      'public.test',
    );
    const err = await refusal(outbound.checkUrl('https://metadata.test/latest/meta-data/', 'webhook'));
    expect(err.context).toMatchObject({ reason: 'metadata', address: '169.254.169.254' });
  });

  it('audits a blocked attempt with purpose, reason, host, address, tenant and actor, and no secret', async () => {
    const lines: string[] = [];
    const log = createLogger('debug', new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }));
    const outbound = testOutbound(storage.db, {
      log,
      inject: { resolver: resolverLookup(dns.resolver()), ca: [tls.ca], testPublicCidrs: ['127.0.0.2/32'] },
    });
    const secret = `s3cr3t-${Math.random().toString(36).slice(2)}`;
    await refusal(
      outbound.send({
        purpose: 'webhook',
        url: `https://metadata.test/${secret}/x?token=${secret}`,
        method: 'POST',
        headers: { 'webhook-signature': `v1,${secret}`, authorization: `Bearer ${secret}` },
        body: secret,
        tenantId: 'tenant-outbound-1',
        actor: { type: 'user', id: 'user-outbound-1' },
      }),
    );
    await refusal(
      outbound.checkUrl(`https://user:${secret}@public.test/`, 'webhook', { tenantId: 'tenant-outbound-2' }),
    );
    const events = await blockedEvents();
    const send = events.find((e) => e.tenantId === 'tenant-outbound-1')!;
    expect(send).toMatchObject({
      actor: { type: 'user', id: 'user-outbound-1' },
      object: { type: 'outbound_destination', id: 'metadata.test' },
      action: 'outbound:send',
      decision: 'deny',
      reason: 'metadata',
      details: { purpose: 'webhook', host: 'metadata.test', address: '169.254.169.254' },
    });
    const check = events.find((e) => e.tenantId === 'tenant-outbound-2')!;
    expect(check).toMatchObject({ action: 'outbound:check', reason: 'userinfo', details: { host: 'public.test' } });
    expect(JSON.stringify(events)).not.toContain(secret);
    // Nor is it in the error the caller gets, or in the layer's log.
    const err = await refusal(
      outbound.send({ purpose: 'webhook', url: `https://metadata.test/?t=${secret}`, method: 'GET' }),
    );
    expect(JSON.stringify({ ...err, message: (err as unknown as Error).message })).not.toContain(secret);
    expect(lines.join('')).not.toContain(secret);
  });

  it('lets the SIEM collector reach a private network only through outbound.siem.allowPrivateCidrs', async () => {
    const settings = { siem: { allowPrivateCidrs: ['127.0.0.1/32', '169.254.0.0/16'] } };
    const outbound = testOutbound(storage.db, {
      settings,
      inject: { resolver: resolverLookup(dns.resolver()), ca: [tls.ca] },
    });
    const url = `https://localhost:${rebound.port}/ingest`;
    expect((await outbound.send({ purpose: 'siem', url, method: 'POST', body: '[]' })).body.toString()).toBe('rebound');
    // The same URL as a webhook is refused: client-supplied URLs never get the exception.
    expect((await refusal(outbound.send({ purpose: 'webhook', url, method: 'POST' }))).context.reason).toBe('loopback');
    // Metadata stays refused even inside an allowlisted range.
    expect(
      (await refusal(outbound.send({ purpose: 'siem', url: 'https://metadata.test/', method: 'GET' }))).context.reason,
    ).toBe('metadata');
  });

  it('lets traces use plain http to a loopback collector only by outbound.otlp.allowLoopbackHttp', async () => {
    const collector = createServer((req, res) => req.resume().on('end', () => res.writeHead(200).end('{}')));
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
    try {
      // A sidecar collector on loopback, production mode included: the setting names the purpose and loopback only.
      const prod = testOutbound(storage.db, { mode: 'production', settings: { otlp: { allowLoopbackHttp: true } } });
      expect((await prod.send({ purpose: 'otlp', url, method: 'POST', body: '{}' })).status).toBe(200);
      expect((await refusal(prod.send({ purpose: 'webhook', url, method: 'POST' }))).context.reason).toBe('scheme');
      expect((await refusal(prod.send({ purpose: 'siem', url, method: 'POST' }))).context.reason).toBe('scheme');
      const elsewhere = prod.send({ purpose: 'otlp', url: 'http://10.1.2.3:4318/v1/traces', method: 'POST' });
      expect((await refusal(elsewhere)).context.reason).toBe('scheme');
      // Without the setting the collector must be https.
      const strict = testOutbound(storage.db, { mode: 'production' });
      expect((await refusal(strict.send({ purpose: 'otlp', url, method: 'POST' }))).context.reason).toBe('scheme');
    } finally {
      collector.close();
    }
  });

  it('refuses development-only and test-only settings in production mode', () => {
    const prod = (options: Parameters<typeof testOutbound>[1]) => () =>
      testOutbound(storage.db, { mode: 'production', ...options });
    expect(prod({ settings: { allowLoopbackHttp: true } })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
    );
    expect(prod({ inject: { testPublicCidrs: ['127.0.0.2/32'] } })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
    );
    expect(prod({ settings: { siem: { allowPrivateCidrs: ['not-a-cidr'] } } })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
    );
    expect(prod({})).not.toThrow();
  });
});
