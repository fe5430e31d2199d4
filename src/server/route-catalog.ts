import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/index.js';
import type { CatalogedRoute } from '../http/index.js';
import { createLogger } from '../platform/index.js';
import { buildListeners, closeListeners } from './listeners.js';
import { createPlatform } from './platform.js';
import { resolveServerTls } from './tls-material.js';

/**
 * The routes of the three listeners of a fresh development deployment, built in a throwaway data directory and
 * never listening: what `npm run docs:openapi` writes the committed documents from.
 */
export async function routeCatalog(): Promise<Record<'public' | 'gateway' | 'admin', CatalogedRoute[]>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'carapace-routes-'));
  const config = loadConfig({ overrides: { dataDir, seedDemo: false, detect: { enabled: false } }, env: {} });
  const platform = await createPlatform(config, { log: createLogger('silent') });
  try {
    const listeners = buildListeners(platform, await resolveServerTls(config, platform.pki));
    await Promise.all([listeners.public.app.ready(), listeners.gateway.app.ready(), listeners.admin.app.ready()]);
    const { public: pub, gateway, admin } = listeners;
    const routes = { public: pub.routes, gateway: gateway.routes, admin: admin.routes };
    await closeListeners(listeners);
    return routes;
  } finally {
    await platform.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
