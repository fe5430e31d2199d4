import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../src/client/index.js';
import { COMMAND_CATALOG } from '../src/commands/index.js';
import { GOVERNANCE_MEASURES, type GovernanceMetric, type InventoryRow } from '../src/inventory/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { httpsRequest } from '../src/vehicle-sdk/index.js';

const FIELDS = [
  'listener',
  'method',
  'path',
  'version',
  'status',
  'owner',
  'businessOwner',
  'purpose',
  'dataExposed',
  'commandsExposed',
  'callers',
  'authentication',
  'authorization',
  'objects',
  'exposure',
  'regions',
  'schema',
  'consumersSeen',
  'rateExpectations',
  'logging',
  'classification',
  'safetyImpact',
  'privacyImpact',
  'financialImpact',
  'decommission',
  'lastSecurityReview',
  'knownExceptions',
];

describe.each(testEngines())('the API inventory and the governance measures (%s)', (database) => {
  let cp: TestCarapace;
  const admin = async <T>(path: string) => {
    const res = await httpsRequest(`${cp.addresses.admin}${path}`, { ca: cp.ca, ...cp.operatorTls });
    expect(res.status, path).toBe(200);
    return res.json as T;
  };
  const governance = async () =>
    admin<{ window: { from: string; to: string }; metrics: GovernanceMetric[] }>('/admin/v1/governance');
  const pick = (metrics: GovernanceMetric[], name: string, labels: Record<string, string> = {}) =>
    metrics.find((m) => m.name === name && Object.entries(labels).every(([k, v]) => m.labels[k] === v));

  beforeAll(async () => {
    cp = await startTestCarapace({ database, overrides: { seedDemo: true, detect: { enabled: false } } });
    // Live data: the owner app reads Alice's car through the deprecated v1 and is refused Bob's (a deny event).
    const rows = await cp.platform.storage.db.selectFrom('vehicles').select(['id', 'vin']).execute();
    const id = (vin: string) => rows.find((r) => r.vin === vin)!.id;
    const dana = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await dana.login({
      email: 'dana@example.com',
      password: 'demo-dana-password',
      scopes: ['openid', 'vehicle:read_status'],
    });
    expect((await dana.api('GET', `/v1/vehicles/${id('5YJ3E1EA7KF000001')}/status`)).status).toBe(200);
    expect((await dana.api('GET', `/v2/vehicles/${id('5YJ3E1EA7KF000002')}/status`)).status).toBe(404);
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
  });

  it('lists every route of the three listeners with every field, unknown where the code says nothing', async () => {
    const { routes } = await admin<{ routes: InventoryRow[] }>('/admin/v1/inventory');
    for (const plane of ['public', 'gateway', 'admin'] as const)
      expect(routes.filter((r) => r.listener === plane)).toHaveLength(
        cp.listeners[plane].routes.filter((r) => r.method !== 'HEAD').length,
      );
    for (const r of routes) expect(Object.keys(r)).toEqual(FIELDS);
    const v1 = routes.find((r) => r.path === '/v1/vehicles/:vehicleId/status')!;
    expect(v1).toMatchObject({
      version: 'v1',
      status: 'deprecated',
      businessOwner: 'unknown',
      privacyImpact: 'low',
      objects: ['Vehicle', 'Device'],
      authorization: { action: 'vehicle:read_status', visibleWith: 'vehicle:read' },
      decommission: { sunset: '2027-06-30T00:00:00Z', successor: 'GET /v2/vehicles/:vehicleId/status' },
      logging: { always: ['authz.decision'], seen: ['authz.decision'] },
      lastSecurityReview: 'unknown',
      knownExceptions: 'unknown',
    });
    // Consumers come from the trail: the owner app called the action (v1 allowed, v2 denied).
    expect(v1.consumersSeen).toContain('carapace-owner-app');
    expect(v1.authorization.policies.length).toBeGreaterThan(0);
    expect(v1.dataExposed).toContain('reported.locks.value.locked');
    const command = routes.find((r) => r.method === 'POST' && r.path === '/v1/vehicles/:vehicleId/commands')!;
    expect(command.commandsExposed).toEqual(Object.keys(COMMAND_CATALOG));
    expect(command.rateExpectations).toContain(
      `${cp.config.commands.perVehicle} commands per vehicle (commands.perVehicle) per 60 s`,
    );
    expect(routes.find((r) => r.path === '/v1/me')!.rateExpectations).toEqual([]);
  });

  it('computes the eleven measures from live data; the test counts the same numbers itself', async () => {
    const db = cp.platform.storage.db;
    const { window, metrics } = await governance();
    expect([...new Set(metrics.map((m) => m.measure))]).toEqual([...GOVERNANCE_MEASURES]);
    for (const m of metrics) expect(m.value === null).toBe(m.reason !== null);
    const inWindow = db
      .selectFrom('audit_events')
      .where('occurred_at', '>=', window.from)
      .where('occurred_at', '<=', window.to);
    // inventory
    for (const plane of ['public', 'gateway', 'admin'] as const)
      expect(pick(metrics, 'carapace_inventory_routes', { listener: plane })!.value).toBe(
        cp.listeners[plane].routes.filter((r) => r.method !== 'HEAD').length,
      );
    // step-up flags of the command catalog
    const catalog = Object.values(COMMAND_CATALOG);
    for (const risk of ['low', 'medium', 'high', 'critical'])
      expect(pick(metrics, 'carapace_commands_step_up', { risk })!.value).toBe(
        catalog.filter((c) => c.risk === risk && c.stepUp).length,
      );
    // versions: one deprecated call, one client
    const calls = await db.selectFrom('api_version_usage').select(['calls', 'client_id']).execute();
    expect(pick(metrics, 'carapace_api_deprecated_calls')!.value).toBe(calls.reduce((n, c) => n + Number(c.calls), 0));
    expect(pick(metrics, 'carapace_api_deprecated_calls')!.value).toBe(1);
    expect(pick(metrics, 'carapace_api_deprecated_clients')!.value).toBe(new Set(calls.map((c) => c.client_id)).size);
    // credential ages, at the window's end
    const certs = await db
      .selectFrom('certificates')
      .select(['profile', 'issued_at'])
      .where('status', '=', 'active')
      .execute();
    const operator = certs
      .filter((c) => c.profile === 'operator')
      .map((c) => (Date.parse(window.to) - Date.parse(c.issued_at)) / 1000);
    expect(pick(metrics, 'carapace_credential_age_max_seconds', { profile: 'operator' })!.value).toBe(
      Math.round(Math.max(...operator)),
    );
    // deny events in the window
    const denies = await inWindow
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('decision', '=', 'deny')
      .executeTakeFirstOrThrow();
    expect(pick(metrics, 'carapace_deny_events', { type: 'all' })!.value).toBe(Number(denies.n));
    expect(Number(denies.n)).toBeGreaterThan(0);
    // log coverage: authenticated routes whose action the trail shows
    const actions = new Set((await inWindow.select('action').distinct().execute()).map((a) => a.action));
    const authenticated = Object.values(cp.listeners)
      .flatMap((l) => ('routes' in l ? l.routes : []))
      .filter((r) => r.method !== 'HEAD' && !r.entry.callers.includes('anonymous'));
    expect(pick(metrics, 'carapace_log_coverage_ratio')!.value).toBeCloseTo(
      authenticated.filter((r) => actions.has(r.entry.action)).length / authenticated.length,
      12,
    );
    // partner applications
    const partners = await db.selectFrom('applications').select('client_id').where('kind', '=', 'partner').execute();
    expect(pick(metrics, 'carapace_partner_applications')!.value).toBe(partners.length);
    expect(pick(metrics, 'carapace_partner_review_age_max_seconds')).toMatchObject({
      value: null,
      reason: expect.stringContaining('no data yet'),
    });
    // abuse controls: every sensitive flow outside the admin plane has a sample
    const sensitive = ['public', 'gateway'].flatMap((p) =>
      cp.listeners[p as 'public' | 'gateway'].routes.filter(
        (r) => r.method !== 'HEAD' && (r.entry.safetyImpact === 'high' || r.entry.classification === 'restricted'),
      ),
    );
    expect(metrics.filter((m) => m.name === 'carapace_abuse_controls')).toHaveLength(sensitive.length);
    // No incident yet: revocation and scoping times are "no data yet", never zero.
    expect(pick(metrics, 'carapace_time_to_revoke_p95_seconds', { kind: 'vehicle' })).toMatchObject({ value: null });
    expect(pick(metrics, 'carapace_time_to_identify_affected_vehicles_seconds')).toMatchObject({ value: null });
  });

  it('reads the authorization matrix from its last report: no data yet, then that report’s numbers', async () => {
    const before = pick((await governance()).metrics, 'carapace_authz_matrix_unexpected_cells')!;
    expect(before).toMatchObject({ value: null, reason: expect.stringContaining('authz-report.json') });
    const summary = {
      cells: 1200,
      allowed: 300,
      denied: 900,
      unexpected: 2,
      phases: [],
      routes: 50,
      routesReached: 49,
      routesMissing: ['x'],
      unresolved: [],
    };
    writeFileSync(join(cp.config.dataDir, 'authz-report.json'), JSON.stringify({ cells: [], summary }));
    const after = (await governance()).metrics;
    expect(pick(after, 'carapace_authz_matrix_unexpected_cells')!.value).toBe(2);
    expect(pick(after, 'carapace_authz_matrix_cells')!.value).toBe(1200);
    expect(pick(after, 'carapace_authz_matrix_route_coverage_ratio')!.value).toBeCloseTo(49 / 50, 12);
  });
});
