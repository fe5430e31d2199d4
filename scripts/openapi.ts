/**
 * Writes the committed OpenAPI documents (docs/openapi.json, docs/openapi-gateway.json, docs/openapi-admin.json)
 * from the routes a fresh deployment registers: `npm run docs:openapi`. A test compares them with what a running
 * server serves.
 */
import { writeFileSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';
import { join } from 'node:path';
import { API_VERSION, clientRouteTypes, openApiDocument, PLANES, type Plane } from '../src/inventory/index.js';
import { routeCatalog } from '../src/server/index.js';

/** The typed client's route map, generated from the same schemas. */
export const CLIENT_ROUTES_FILE = 'src/client/api-routes.ts';

/** Where each listener's document is committed. */
export const OPENAPI_FILES: Record<Plane, string> = {
  public: 'docs/openapi.json',
  gateway: 'docs/openapi-gateway.json',
  admin: 'docs/openapi-admin.json',
};

/** Text formatted as the repository formats it (Prettier), so the committed files pass `npm run lint`. */
export async function formatted(text: string, file: string): Promise<string> {
  const options = await resolveConfig(file);
  return format(text, { ...options, filepath: file });
}

if (process.argv[1] === import.meta.filename) {
  const routes = await routeCatalog();
  for (const plane of PLANES) {
    const file = join(import.meta.dirname, '..', OPENAPI_FILES[plane]);
    const text = JSON.stringify(openApiDocument(plane, routes[plane], API_VERSION), null, 2);
    writeFileSync(file, await formatted(text, file));
    process.stdout.write(`${OPENAPI_FILES[plane]}: ${Object.keys(routes[plane]).length} routes\n`);
  }
  const client = join(import.meta.dirname, '..', CLIENT_ROUTES_FILE);
  writeFileSync(client, await formatted(clientRouteTypes(routes.public), client));
  process.stdout.write(`${CLIENT_ROUTES_FILE}\n`);
}
