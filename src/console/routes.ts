import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { CatalogEntry, RouteRegistrar } from '../http/index.js';
import { CarapaceError } from '../platform/index.js';

/** The folder `npm run build:console` writes to (relative to the package root). */
export const CONSOLE_DIST = 'dist/console-web';

/** Strict headers for every console file: no inline script, never framed, no type sniffing. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
} as const;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

const entry = (purpose: string): CatalogEntry => ({
  owner: 'console',
  purpose,
  callers: ['anonymous'],
  action: 'console:asset:read',
  classification: 'public',
  scopes: [],
  safetyImpact: 'none',
  status: 'beta',
});

/** The built console loaded once at start: index page and hashed assets, keyed by file name (an allow-list). */
export interface ConsoleBundle {
  index: string;
  assets: Map<string, { body: Buffer; type: string }>;
}

/** Reads the built SPA from `dir`; null when it was never built (the routes then answer a problem). */
export function loadConsoleBundle(dir: string): ConsoleBundle | null {
  const indexPath = join(dir, 'index.html');
  if (!existsSync(indexPath)) return null;
  const assets = new Map<string, { body: Buffer; type: string }>();
  const assetDir = join(dir, 'assets');
  for (const name of existsSync(assetDir) ? readdirSync(assetDir) : []) {
    const type = TYPES[name.slice(name.lastIndexOf('.'))];
    if (type) assets.set(name, { body: readFileSync(join(assetDir, name)), type });
  }
  return { index: readFileSync(indexPath, 'utf8'), assets };
}

const Text = { content: { 'text/html': { schema: Type.String() } } };
const Asset = { content: { 'application/octet-stream': { schema: Type.String({ format: 'binary' }) } } };
const NOT_BUILT = 'The console was not built: run `npm run build:console` (npm install runs it).';

/**
 * Registers the console on the admin plane: `/console/` (the page, never cached) and `/console/assets/:file`
 * (hashed names, cached). The files are public code; every API they call authenticates the operator itself.
 * A file name is served only if it was in the build, so no path ever reaches the file system from a request.
 */
export function registerConsoleRoutes(routes: RouteRegistrar, deps: { bundle: ConsoleBundle | null }): void {
  const { bundle } = deps;
  routes.get(
    '/console/',
    {
      auth: { kind: 'anonymous' },
      catalog: entry("The operators' console page."),
      schema: { response: { 200: Text } },
    },
    async (_req, reply) => {
      if (!bundle) throw new CarapaceError('ERR_NOT_FOUND', NOT_BUILT);
      return reply
        .headers({ ...SECURITY_HEADERS, 'cache-control': 'no-store' })
        .type('text/html')
        .send(bundle.index);
    },
  );
  routes.get(
    '/console/assets/:file',
    {
      auth: { kind: 'anonymous' },
      catalog: entry('A script, style sheet or image of the console (content-hashed name).'),
      schema: {
        params: Type.Object(
          { file: Type.String({ pattern: '^[A-Za-z0-9._-]{1,120}$' }) },
          { additionalProperties: false },
        ),
        response: { 200: Asset },
      },
    },
    async (req, reply) => {
      const asset = bundle?.assets.get(req.params.file);
      if (!asset) throw new CarapaceError('ERR_NOT_FOUND', 'No such console file.');
      const headers = { ...SECURITY_HEADERS, 'cache-control': 'public, max-age=31536000, immutable' };
      return reply
        .headers(headers)
        .type(asset.type)
        .send(asset.body as unknown as string); // a Buffer: Fastify sends it as is
    },
  );
}
