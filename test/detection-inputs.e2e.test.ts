import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { readScenario } from '../src/server/index.js';
import { startTestCarapace, testEngines, type TestCarapace } from '../src/testing/index.js';

const scenario = readScenario('scenarios/demo.yaml');

// The detection rules (detections/*.json) read fields of the audit events; these are written by the modules that
// own the decisions, over real HTTPS: the decision's token family and whether the object is another tenant's, the
// account a failed sign-in named, the VIN and source address of claims and service requests.
describe.each(testEngines())('the audit events carry what the detections read (%s)', (database) => {
  let cp: TestCarapace;
  const ids: Record<string, string> = {};
  const signIn = async (key: string, clientId: string, scopes: string[]) => {
    const u = scenario.users.find((x) => x.key === key)!;
    const c = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId,
      redirectUri: 'http://127.0.0.1/callback',
    });
    await c.login({
      email: u.email,
      password: u.password,
      scopes,
      ...(u.totp ? { totp: () => currentTotp(u.totp!, new Date()) } : {}),
    });
    return c;
  };
  const events = (requestId: unknown, type: string) =>
    cp.platform.audit.list({ requestId: String(requestId), type, limit: 20 });

  beforeAll(async () => {
    cp = await startTestCarapace({ database, overrides: { seedDemo: true } });
    const db = cp.platform.storage.db;
    for (const [key, vin] of [
      ['alice', '5YJ3E1EA7KF000001'],
      ['bob', '5YJ3E1EA7KF000002'],
      ['van', '1FTBW3XM5HKA00001'],
    ] as const)
      ids[key] = (await db.selectFrom('vehicles').select('id').where('vin', '=', vin).executeTakeFirstOrThrow()).id;
    ids.dealer = (
      await db.selectFrom('tenants').select('id').where('name', '=', 'Main Street Motors').executeTakeFirstOrThrow()
    ).id;
  }, 120_000);
  afterAll(async () => cp?.stop());

  it("marks a refusal on another tenant's vehicle cross-tenant, and the fleet's own admin not", async () => {
    const fiona = await signIn('fiona', 'carapace-fleet-console', ['openid', 'fleet:read', 'vehicle:read_status']);
    const own = await fiona.api('GET', `/v1/vehicles/${ids.van}`);
    expect(own.status).toBe(200);
    const [allowed] = await events(own.headers['x-request-id'], 'authz.decision');
    expect(allowed).toMatchObject({ decision: 'allow', details: { crossTenant: false } });
    expect(allowed?.details.grant).toEqual(expect.stringMatching(/.{8,}/));
    expect(allowed?.details.jti).toEqual(expect.any(String));
    expect(allowed?.context.sourceIp).toEqual(expect.any(String));

    const alice = await signIn('alice', 'carapace-owner-app', ['openid', 'vehicle:read_status', 'vehicle:claim']);
    const governance = async () => (await cp.platform.incidents.governance(1)).crossTenantAuthorizationFailures.count;
    const crossBefore = await governance();
    const other = await alice.api('GET', `/v1/vehicles/${ids.van}`);
    expect(other.status).toBe(404);
    const [denied] = await events(other.headers['x-request-id'], 'authz.decision');
    expect(denied).toMatchObject({ decision: 'deny', tenantId: allowed?.tenantId, details: { crossTenant: true } });
    // The governance number counts it (issue 13 item 8), and the fleet admin's own read did not count.
    expect(await governance()).toBe(crossBefore + 1);
    expect(denied?.details.grant).toEqual(expect.stringMatching(/.{8,}/));
    expect(denied?.details.grant).not.toBe(allowed?.details.grant);

    // A vehicle that does not exist belongs to no tenant, and neither does a household's car (its owner is a
    // person): the flag is null, unknown, not false. The object-probing rule covers those.
    for (const id of ['0'.repeat(26), ids.bob]) {
      const r = await alice.api('GET', `/v1/vehicles/${id}`);
      expect(r.status).toBe(404);
      const [unknown] = await events(r.headers['x-request-id'], 'authz.decision');
      expect(unknown).toMatchObject({ decision: 'deny', details: { crossTenant: null } });
    }

    // A refused claim names the VIN and the source address, so consecutive VINs can be counted per account.
    const claim = await alice.api('POST', '/v1/vehicle-claims', { vin: '5yj3e1ea7kf000009', code: 'WRONG-CODE' });
    expect(claim.status).toBeGreaterThanOrEqual(400);
    const [refused] = await events(claim.headers['x-request-id'], 'relationships.claim.refused');
    expect(refused).toMatchObject({ details: { vin: '5YJ3E1EA7KF000009' }, context: { sourceIp: expect.any(String) } });
  });

  it('names the account of a failed sign-in by a hash, for unknown accounts too, and never the address', async () => {
    const c = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    const tries = ['Nobody@Example.com', 'nobody@example.com', 'somebody@example.com'];
    for (const email of tries)
      await c.login({ email, password: 'wrong-password-x', scopes: ['openid'] }).catch(() => undefined);
    const failed = (await cp.platform.audit.list({ type: 'auth.login.failed', limit: 3 })).reverse();
    const handles = failed.map((e) => e.details.account);
    // The same address (after normalisation) gives the same handle; another address another one.
    expect(handles[0]).toMatch(/^[0-9a-f]{16}$/);
    expect(handles[1]).toBe(handles[0]);
    expect(handles[2]).not.toBe(handles[0]);
    expect(JSON.stringify(failed)).not.toContain('example.com');
    expect(failed.every((e) => typeof e.context.sourceIp === 'string')).toBe(true);
  });

  it('records the VIN a dealer asked a service case for, known or not, with the source address', async () => {
    const derek = await signIn('derek', 'carapace-dealer-tool', ['openid', 'vehicle:diagnostics']);
    const r = await derek.api('POST', `/v1/dealers/${ids.dealer}/service-cases`, {
      vin: '1FTBW3XM5HKA00077',
      reason: 'brake noise',
    });
    expect(r.status).toBe(202);
    const [requested] = await events(r.headers['x-request-id'], 'relationships.service_case.requested');
    expect(requested).toMatchObject({
      details: { vin: '1FTBW3XM5HKA00077' },
      context: { sourceIp: expect.any(String) },
    });
  });
});
