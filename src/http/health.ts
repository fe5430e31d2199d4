import type { App } from './app.js';
import type { CatalogEntry } from './catalog.js';

/** The outcome of one readiness check. */
export type ReadinessChecks = Record<string, boolean>;

const base = {
  owner: 'platform',
  callers: ['anonymous'],
  classification: 'public',
  scopes: [],
  safetyImpact: 'none',
  status: 'stable',
} as const;
const HEALTH: CatalogEntry = { ...base, purpose: 'Liveness probe: the process is up.', action: 'health:read' };
const READY: CatalogEntry = {
  ...base,
  purpose: 'Readiness probe: database reachable, CA loaded, revocation view fresh.',
  action: 'health:read',
};

/** Registers /healthz (alive) and /readyz (every check passes) on a listener. */
export function registerHealth(app: App, readiness: () => Promise<ReadinessChecks>): void {
  app.get('/healthz', { config: { catalog: HEALTH } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { catalog: READY } }, async (_req, reply) => {
    const checks = await readiness();
    const ready = Object.values(checks).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });
}
