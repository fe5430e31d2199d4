import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientRouteTypes, PLANES, type Plane } from '../src/inventory/index.js';
import { ERROR_STATUS } from '../src/platform/index.js';
import { startTestCarapace, type TestCarapace } from '../src/testing/index.js';
import { httpsRequest } from '../src/vehicle-sdk/index.js';
import { CLIENT_ROUTES_FILE, formatted, OPENAPI_FILES } from '../scripts/openapi.js';

const root = join(import.meta.dirname, '..');
const committed = (plane: Plane) => JSON.parse(readFileSync(join(root, OPENAPI_FILES[plane]), 'utf8')) as Doc;
type Doc = { paths: Record<string, Record<string, Record<string, unknown>>>; [k: string]: unknown };

/** Redocly's recommended rules over a document: its problems, as `severity rule at pointer`. */
async function lint(doc: unknown, name: string): Promise<string[]> {
  const config = await createConfig({ extends: ['recommended'] });
  const problems = await lintFromString({ source: JSON.stringify(doc), absoluteRef: name, config });
  return problems.map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer ?? ''}`);
}

describe('OpenAPI 3.1 documents generated from the routes', () => {
  let cp: TestCarapace;
  const served: Partial<Record<Plane, Doc>> = {};
  beforeAll(async () => {
    cp = await startTestCarapace({ database: 'sqlite', overrides: { detect: { enabled: false } } });
    const pub = await httpsRequest(`${cp.config.publicBaseUrl}/openapi.json`, { ca: cp.ca });
    expect(pub.status).toBe(200);
    served.public = pub.json as Doc;
    for (const plane of ['gateway', 'admin'] as const) {
      const res = await httpsRequest(`${cp.addresses.admin}/admin/v1/openapi/${plane}`, {
        ca: cp.ca,
        ...cp.operatorTls,
      });
      expect(res.status).toBe(200);
      served[plane] = res.json as Doc;
    }
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
  });

  it('serves exactly the committed documents (npm run docs:openapi regenerates them)', () => {
    for (const plane of PLANES) expect(served[plane], OPENAPI_FILES[plane]).toEqual(committed(plane));
  });

  it('documents every route of each listener with its purpose, security and catalog entry', () => {
    for (const plane of PLANES) {
      const routes = cp.listeners[plane].routes.filter((r) => r.method !== 'HEAD');
      const doc = served[plane]!;
      for (const r of routes) {
        const op = doc.paths[r.url.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()];
        expect(op, `${plane} ${r.method} ${r.url}`).toBeDefined();
        expect(op).toMatchObject({ summary: r.entry.purpose, 'x-carapace-catalog': { action: r.entry.action } });
      }
      const operations = Object.values(doc.paths).flatMap((p) => Object.keys(p));
      expect(operations).toHaveLength(routes.length);
    }
    const status = served.public!.paths['/v1/vehicles/{vehicleId}/status']!.get!;
    expect(status).toMatchObject({ deprecated: true, security: [{ dpopOAuth: ['vehicle:read_status'] }] });
    expect(Object.keys(status.responses as object)).toEqual(['200', '400', '401', '403', '404', '410']);
    expect(served.gateway!.paths['/v1/telemetry']!.post!.security).toEqual([
      { deviceCertificate: [], deviceToken: ['telemetry:write'] },
    ]);
    expect((served.gateway!.components as { securitySchemes: object }).securitySchemes).toMatchObject({
      deviceCertificate: { type: 'mutualTLS' },
    });
    // Every problem type of the error registry is listed, and the examples name real ones.
    const types = served.public!['x-carapace-problem-types'] as Array<{ code: string }>;
    expect(types.map((t) => t.code)).toEqual(Object.keys(ERROR_STATUS));
  });

  it('passes the OpenAPI lint (Redocly recommended): no error; the WebSocket route has no 2xx, by nature', async () => {
    expect(await lint(served.public, 'public.json')).toEqual([]);
    // The console page is a directory URL by contract (sign-in redirects to /console/): its one lint error.
    expect(await lint(served.admin, 'admin.json')).toEqual(['error no-path-trailing-slash #/paths/~1console~1']);
    expect(await lint(served.gateway, 'gateway.json')).toEqual([
      'warn operation-2xx-response #/paths/~1v1~1commands~1channel/get/responses',
    ]);
    // The lint can fail: an info without title and version, and an undefined path parameter, are errors.
    const broken = structuredClone(served.public!);
    broken.info = {};
    broken.paths['/v1/other/{id}'] = { get: { ...broken.paths['/v1/me']!.get!, operationId: 'broken' } };
    const problems = await lint(broken, 'broken.json');
    expect(problems.filter((p) => p.startsWith('error'))).toEqual(
      expect.arrayContaining([expect.stringContaining('path-parameters-defined'), expect.stringContaining('struct')]),
    );
  });

  it('is refused on the admin plane without an operator certificate, and is not on the gateway', async () => {
    const bare = await httpsRequest(`${cp.addresses.admin}/admin/v1/openapi/public`, { ca: cp.ca });
    expect(bare.status).toBe(401);
    expect(
      (await httpsRequest(`${cp.addresses.admin}/admin/v1/openapi/other`, { ca: cp.ca, ...cp.operatorTls })).status,
    ).toBe(400);
  });

  it('derives the typed client route map from the same schemas (src/client/api-routes.ts is current)', async () => {
    const file = join(root, CLIENT_ROUTES_FILE);
    expect(await formatted(clientRouteTypes(cp.listeners.public.routes), file)).toBe(readFileSync(file, 'utf8'));
  });
});
