import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../src/cli/index.js';
import { CarapaceClient } from '../src/client/index.js';
import { versionContractBreaks } from '../src/inventory/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { httpsRequest } from '../src/vehicle-sdk/index.js';
import { STATUS_V2_RENAMES } from '../src/vehicles/index.js';

const V1 = '/v1/vehicles/:vehicleId/status';
const V2 = '/v2/vehicles/:vehicleId/status';
const SINCE = Date.parse('2026-12-01T00:00:00Z') / 1000;

/** Follows the wall clock (tokens are minted on it) until a test moves it past the v1 sunset. */
class MovableClock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
}

describe.each(testEngines())('API versions and deprecation (%s)', (database) => {
  let cp: TestCarapace;
  let dana: CarapaceClient;
  const clock = new MovableClock();
  const vehicles = new Map<string, string>();
  const admin = async (path: string) => {
    const res = await httpsRequest(`${cp.addresses.admin}${path}`, { ca: cp.ca, ...cp.operatorTls });
    return { status: res.status, body: res.json as Record<string, unknown> };
  };

  beforeAll(async () => {
    // The flush timer is off: the test flushes (through the admin API) when it wants the counts written.
    cp = await startTestCarapace({
      database,
      clock,
      overrides: { seedDemo: true, inventory: { usageFlushInterval: 0 }, detect: { interval: 0.2 } },
    });
    const rows = await cp.platform.storage.db.selectFrom('vehicles').select(['id', 'vin']).execute();
    for (const r of rows) vehicles.set(r.vin ?? '', r.id);
    dana = await CarapaceClient.create({
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
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
  });

  it('v1 answers with Deprecation, Sunset and Link headers; v2 shows the same facts in its new shape', async () => {
    const car = vehicles.get('5YJ3E1EA7KF000001')!;
    const v1 = await dana.api('GET', `/v1/vehicles/${car}/status`);
    expect(v1.status).toBe(200);
    expect(v1.headers.deprecation).toBe(`@${SINCE}`);
    expect(v1.headers.sunset).toBe('Wed, 30 Jun 2027 00:00:00 GMT');
    expect(v1.headers.link).toBe(
      `</api-migrations/vehicle-status-v2>; rel="deprecation"; type="text/markdown", ` +
        `</v2/vehicles/${car}/status>; rel="successor-version"`,
    );
    const v2 = await dana.api('GET', `/v2/vehicles/${car}/status`);
    expect(v2.status).toBe(200);
    expect(v2.headers.deprecation).toBeUndefined();
    expect(v2.headers.sunset).toBeUndefined();
    const a = v1.json as { vehicleId: string; device: unknown; reported: unknown };
    expect(v2.json).toEqual({ vehicle: { id: a.vehicleId }, unit: a.device, state: a.reported });
    // The migration note the Link names is served, anonymously, as Markdown.
    const note = await httpsRequest(`${cp.config.publicBaseUrl}/api-migrations/vehicle-status-v2`, { ca: cp.ca });
    expect(note.status).toBe(200);
    expect(note.text).toContain('`vehicleId` | `vehicle.id`');
    expect((await httpsRequest(`${cp.config.publicBaseUrl}/api-migrations/nope`, { ca: cp.ca })).status).toBe(404);
  });

  it('v2 refuses exactly what v1 refuses: another owner’s vehicle is 404 on both, a missing token 401', async () => {
    const bobs = vehicles.get('5YJ3E1EA7KF000002')!;
    const [v1, v2] = [
      await dana.api('GET', `/v1/vehicles/${bobs}/status`),
      await dana.api('GET', `/v2/vehicles/${bobs}/status`),
    ];
    expect([v1.status, v2.status]).toEqual([404, 404]);
    expect((v2.json as { type: string }).type).toBe((v1.json as { type: string }).type);
    const anonymous = await httpsRequest(`${cp.config.publicBaseUrl}/v2/vehicles/${bobs}/status`, { ca: cp.ca });
    expect(anonymous.status).toBe(401);
  });

  it('contract: v2 exposes no field and weakens no authorization v1 did not; a weaker v2 would be caught', () => {
    const routes = cp.listeners.public.routes;
    const v1 = routes.find((r) => r.method === 'GET' && r.url === V1)!;
    const v2 = routes.find((r) => r.method === 'GET' && r.url === V2)!;
    expect(versionContractBreaks(v1, v2, STATUS_V2_RENAMES)).toEqual([]);
    // The same declaration with one more field, a scope dropped, another caller kind and no visibility check.
    const leaky = structuredClone({ ...v2, entry: { ...v2.entry }, facts: { ...v2.facts } });
    const ok = leaky.schema.response as Record<string, { properties: Record<string, unknown> }>;
    ok['200']!.properties.vin = { type: 'string' };
    leaky.entry.scopes = [];
    leaky.entry.callers = ['user', 'application', 'workload'];
    delete leaky.facts.visibleWith;
    expect(versionContractBreaks(v1, leaky, STATUS_V2_RENAMES)).toEqual([
      `exposes vin, which GET ${V1} does not`,
      'no longer requires the scopes vehicle:read_status',
      'admits new caller kinds workload',
      'checks visibility with nothing instead of vehicle:read',
    ]);
    // Without the rename map, every renamed field reads as new.
    expect(versionContractBreaks(v1, v2).some((p) => p.startsWith('exposes vehicle.id'))).toBe(true);
  });

  it('counts v1 calls per client and vehicle in batches, lists them (API, CLI), feeds the detection', async () => {
    const car = vehicles.get('5YJ3E1EA7KF000001')!;
    const db = cp.platform.storage.db;
    // Nothing is written per request: until a flush, the table holds nothing.
    expect(await db.selectFrom('api_version_usage').selectAll().execute()).toEqual([]);
    for (let i = 0; i < 3; i++) expect((await dana.api('GET', `/v1/vehicles/${car}/status`)).status).toBe(200);
    const deprecated = await admin('/admin/v1/inventory/deprecated');
    expect(deprecated.status).toBe(200);
    // Four successful calls (one in the first test) and one refused for Bob's car, which counts no vehicle.
    expect(deprecated.body.usage).toEqual([
      expect.objectContaining({ route: `GET ${V1}`, version: 'v1', clientId: 'carapace-owner-app', calls: 5 }),
    ]);
    expect((deprecated.body.usage as Array<{ vehicles: number }>)[0]!.vehicles).toBe(1);
    const rows = await db.selectFrom('api_version_usage').selectAll().execute();
    expect(rows.map((r) => [r.vehicle_id, Number(r.calls)]).sort()).toEqual([
      ['', 1],
      [car, 4],
    ]);
    const events = await db
      .selectFrom('audit_events')
      .selectAll()
      .where('type', '=', 'http.version.deprecated_used')
      .execute();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ application_id: 'carapace-owner-app', object_id: `GET ${V1}`, decision: 'info' });
    expect(JSON.parse(events[0]!.details)).toMatchObject({ version: 'v1', sunset: '2027-06-30T00:00:00Z', calls: 5 });
    // The detection rule that waited for this event fires on it.
    const deadline = Date.now() + 30_000;
    let found: unknown[] = [];
    while (Date.now() < deadline && found.length === 0) {
      found = (await admin('/admin/v1/findings?rule=deprecated-api-version')).body.findings as unknown[];
      if (found.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(found).toHaveLength(1);
    // `carapace inventory deprecated` prints who still calls what, and when last.
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((t) => (out.push(String(t)), true));
    try {
      const files = cp.operator!;
      const tls = ['--cert', files.certFile, '--key', files.keyFile, '--ca', join(cp.config.dataDir, 'pki', 'ca.pem')];
      const args = ['inventory', 'deprecated', '--admin-url', cp.addresses.admin, ...tls, '--format', 'csv'];
      await buildProgram().parseAsync(['node', 'carapace', ...args]);
    } finally {
      spy.mockRestore();
    }
    const [header, line] = out.join('').trim().split('\r\n');
    expect(header).toBe('route,version,clientId,calls,vehicles,firstAt,lastAt');
    expect(line).toMatch(new RegExp(`^GET ${V1},v1,carapace-owner-app,5,1,\\S+Z,\\S+Z$`));
  });

  it('after the sunset, v1 answers 410 before authentication and does nothing; v2 still answers', async () => {
    const car = vehicles.get('5YJ3E1EA7KF000001')!;
    clock.offsetMs = Date.parse('2027-06-30T00:00:01Z') - Date.now();
    try {
      const anonymous = await httpsRequest(`${cp.config.publicBaseUrl}/v1/vehicles/${car}/status`, { ca: cp.ca });
      expect(anonymous.status).toBe(410);
      expect(anonymous.json).toMatchObject({
        type: 'urn:carapace:problem:api-version-retired',
        code: 'ERR_API_VERSION_RETIRED',
        successor: `/v2/vehicles/${car}/status`,
      });
      expect(anonymous.headers.sunset).toBe('Wed, 30 Jun 2027 00:00:00 GMT');
      const before = await cp.platform.storage.db.selectFrom('audit_events').select('seq').execute();
      expect((await dana.api('GET', `/v1/vehicles/${car}/status`)).status).toBe(410);
      // No authorization decision was taken (nor audited) for the retired call.
      const after = await cp.platform.storage.db
        .selectFrom('audit_events')
        .select(['type'])
        .where('seq', '>', Math.max(...before.map((b) => b.seq)))
        .where('type', '=', 'authz.decision')
        .execute();
      expect(after).toEqual([]);
    } finally {
      clock.offsetMs = 0;
    }
    expect((await dana.api('GET', `/v2/vehicles/${car}/status`)).status).toBe(200);
  });
});
