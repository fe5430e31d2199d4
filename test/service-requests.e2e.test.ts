import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../src/client/index.js';
import { readScenario } from '../src/server/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';

const scenario = readScenario('scenarios/demo.yaml');

// Every service request creates a case the vehicle's owner sees: a dealer may send only so many, in all and per VIN,
// counted before anything is looked up (so concurrent requests cannot all pass, and an unknown VIN counts the same).
describe.each(testEngines())('service requests are limited per dealer (%s)', (database) => {
  let cp: TestCarapace;
  let derek: CarapaceClient;
  let dealer = '';
  // The request's own deny decision (with its request id), and the module's event saying which limit it hit.
  const refusal = async (r: { headers: Record<string, unknown> }) =>
    (
      await cp.platform.audit.list({
        requestId: String(r.headers['x-request-id']),
        type: 'authz.decision',
        decision: 'deny',
      })
    )[0];
  const limitedEvents = async (reason: string) =>
    (await cp.platform.audit.list({ type: 'relationships.service_case.limited' })).filter((e) => e.reason === reason)
      .length;
  const request = (vin: string) =>
    derek.api('POST', `/v1/dealers/${dealer}/service-cases`, { vin, reason: 'brake noise' });

  beforeAll(async () => {
    cp = await startTestCarapace({
      database,
      overrides: { seedDemo: true, serviceCases: { requestsPerDealer: 8, requestsPerVin: 3 } },
    });
    dealer = (
      await cp.platform.storage.db
        .selectFrom('tenants')
        .select(['id'])
        .where('name', '=', 'Main Street Motors')
        .executeTakeFirstOrThrow()
    ).id;
    const u = scenario.users.find((x) => x.key === 'derek')!;
    derek = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-dealer-tool',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await derek.login({ email: u.email, password: u.password, scopes: ['openid', 'vehicle:diagnostics'] });
  }, 120_000);
  afterAll(async () => cp?.stop());

  it('admits exactly the per-VIN limit of concurrent requests, known VIN or not, with Retry-After and deny events', async () => {
    const cases = () =>
      cp.platform.storage.db
        .selectFrom('service_cases')
        .select(['id'])
        .where('dealer_tenant_id', '=', dealer)
        .execute();
    const before = (await cases()).length;
    for (const vin of ['5YJ3E1EA7KF000002', 'WVWZZZ1JZXW000000']) {
      const answers = await Promise.all(Array.from({ length: 8 }, () => request(vin)));
      expect(answers.filter((r) => r.status === 202)).toHaveLength(3);
      const limited = answers.filter((r) => r.status === 429);
      expect(limited).toHaveLength(5);
      expect(limited[0]!.json).toMatchObject({
        code: 'ERR_SERVICE_REQUEST_LIMITED',
        type: 'urn:carapace:problem:service-request-limited',
      });
      expect(Number(limited[0]!.headers['retry-after'])).toBeGreaterThan(0);
      expect(await refusal(limited[0]!)).toMatchObject({ tenantId: dealer, action: 'service_case:request' });
      expect(await limitedEvents('vin_limit')).toBe(5 * (vin === 'WVWZZZ1JZXW000000' ? 2 : 1));
    }
    expect((await cases()).length).toBe(before + 6);
  });

  it('refuses the dealer once its limit across VINs is spent, whatever the VIN', async () => {
    // Six admitted above; two more fit under the dealer's limit of eight.
    expect((await request('5YJ3E1EA7KF000003')).status).toBe(202);
    expect((await request('5YJ3E1EA7KF000004')).status).toBe(202);
    const over = await request('1FTBW3XM5HKA00003');
    expect(over.status).toBe(429);
    expect(await refusal(over)).toMatchObject({ tenantId: dealer, reason: 'ERR_SERVICE_REQUEST_LIMITED' });
    expect(await limitedEvents('dealer_limit')).toBe(1);
  });
});
