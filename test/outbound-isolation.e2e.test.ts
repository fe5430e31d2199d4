import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolverLookup } from '../src/outbound/index.js';
import { startDnsServer, startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import type { TestDnsServer } from '../src/testing/index.js';
import { httpsRequest } from '../src/vehicle-sdk/index.js';
import { type Receiver, receiverTls, refusal, startReceiver, until } from './outbound-support.js';

const ENDPOINTS = 100;
const BUDGET = 20;

describe.each(testEngines())('a running platform while 100 outbound endpoints hang (%s)', (database) => {
  let cp: TestCarapace;
  let dns: TestDnsServer;
  let hanging: Receiver;
  const held: ServerResponse[] = [];

  beforeAll(async () => {
    const names = Array.from({ length: ENDPOINTS }, (_, i) => `endpoint-${i}.test`);
    const tls = await receiverTls(names);
    dns = await startDnsServer((name, type) => (names.includes(name) ? (type === 'A' ? ['127.0.0.2'] : []) : null));
    hanging = await startReceiver(tls, '127.0.0.2', (_req, res) => held.push(res));
    // The platform's own outbound layer, with a small worker budget and the test's DNS server and CA.
    cp = await startTestCarapace({
      database,
      overrides: { detect: { enabled: false }, outbound: { concurrency: BUDGET, queue: 0, hostConcurrency: 1 } },
      outbound: { resolver: resolverLookup(dns.resolver()), ca: [tls.ca], testPublicCidrs: ['127.0.0.2/32'] },
    });
  });
  afterAll(async () => {
    for (const r of held.splice(0)) r.destroy();
    await cp?.stop();
    await hanging.close();
    await dns.close();
  });

  it('holds at most its worker budget, refuses the rest at once, and the API keeps answering', async () => {
    const calls = Array.from({ length: ENDPOINTS }, (_, i) =>
      cp.platform.outbound.send({
        purpose: 'webhook',
        url: `https://endpoint-${i}.test:${hanging.port}/hook`,
        method: 'POST',
        body: '{}',
        breakerKey: `subscription-${i}`,
      }),
    );
    const settled = calls.map((c) =>
      c.then(
        () => 'answered',
        (e: { code?: string }) => e.code ?? 'error',
      ),
    );
    await until('the budget to fill', () => held.length === BUDGET);
    // Past the budget (no queue) every call fails at once rather than waiting on the hanging endpoints.
    const early = await Promise.all(settled.slice(BUDGET));
    expect(early.every((r) => r === 'ERR_OUTBOUND_BUSY')).toBe(true);
    // The API is not part of that budget: it answers every request while the endpoints hang.
    for (let i = 0; i < 20; i++) {
      const res = await httpsRequest(`${cp.addresses.public}/healthz`, { ca: cp.ca });
      expect(res.status).toBe(200);
    }
    expect(held).toHaveLength(BUDGET);
    for (const r of held.splice(0)) r.writeHead(200).end();
    expect(await Promise.all(settled.slice(0, BUDGET))).toEqual(Array(BUDGET).fill('answered'));
    // With the budget free again, calls go through.
    const again = cp.platform.outbound.send({
      purpose: 'webhook',
      url: `https://endpoint-0.test:${hanging.port}/`,
      method: 'GET',
    });
    await until('the next call to arrive', () => held.length === 1);
    held.splice(0)[0]!.writeHead(204).end();
    expect((await again).status).toBe(204);
  });

  it("refuses a blocked destination through the platform's layer and audits it in the platform's trail", async () => {
    const err = await refusal(cp.platform.outbound.send({ purpose: 'webhook', url: 'https://[::1]/', method: 'GET' }));
    expect(err.code).toBe('ERR_OUTBOUND_BLOCKED');
    const [event] = await cp.platform.audit.list({ type: 'outbound.blocked' });
    expect(event).toMatchObject({ reason: 'loopback', details: { purpose: 'webhook', host: '::1', address: '::1' } });
  });
});
