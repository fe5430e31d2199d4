/**
 * Writes the committed OpenAPI documents (docs/openapi.json, docs/openapi-gateway.json, docs/openapi-admin.json)
 * from the routes a fresh deployment registers: `npm run docs:openapi`. A test compares them with what a running
 * server serves.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_VERSION, openApiDocument, PLANES, type Plane } from '../src/inventory/index.js';
import { routeCatalog } from '../src/server/index.js';

/** Where each listener's document is committed. */
export const OPENAPI_FILES: Record<Plane, string> = {
  public: 'docs/openapi.json',
  gateway: 'docs/openapi-gateway.json',
  admin: 'docs/openapi-admin.json',
};

if (process.argv[1] === import.meta.filename) {
  const routes = await routeCatalog();
  for (const plane of PLANES) {
    const file = join(import.meta.dirname, '..', OPENAPI_FILES[plane]);
    writeFileSync(file, `${JSON.stringify(openApiDocument(plane, routes[plane], API_VERSION), null, 2)}\n`);
    process.stdout.write(`${OPENAPI_FILES[plane]}: ${Object.keys(routes[plane]).length} routes\n`);
  }
}
