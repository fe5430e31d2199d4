import { Type } from '@sinclair/typebox';
import type { CatalogEntry } from './catalog.js';
import type { RouteRegistrar } from './route-definition.js';

/** The outcome of one readiness check. */
export type ReadinessChecks = Record<string, boolean>;

/** Facts beside the checks that do not make a node unready (e.g. a SIEM sink under backpressure). */
export type ReadinessDetails = Record<string, Record<string, string | number | boolean | null>>;

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
const closed = { additionalProperties: false } as const;
const Alive = Type.Object({ status: Type.Literal('ok') }, closed);
const Readiness = Type.Object(
  {
    status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
    checks: Type.Record(Type.String(), Type.Boolean()),
    details: Type.Optional(
      Type.Record(
        Type.String(),
        Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])),
      ),
    ),
  },
  closed,
);

/** Registers /healthz (alive) and /readyz (every check passes; `details` reported beside) on a listener. */
export function registerHealth<Spec>(
  routes: RouteRegistrar<Spec>,
  readiness: () => Promise<ReadinessChecks>,
  details: () => ReadinessDetails = () => ({}),
): void {
  const auth = { kind: 'anonymous' } as const;
  routes.get('/healthz', { auth, catalog: HEALTH, schema: { response: { 200: Alive } } }, async () => ({
    status: 'ok' as const,
  }));
  routes.get(
    '/readyz',
    { auth, catalog: READY, schema: { response: { 200: Readiness, 503: Readiness } } },
    async (_req, reply) => {
      const checks = await readiness();
      const ready = Object.values(checks).every(Boolean);
      const more = details();
      const body = { status: ready ? ('ready' as const) : ('not_ready' as const), checks };
      return reply.code(ready ? 200 : 503).send(Object.keys(more).length ? { ...body, details: more } : body);
    },
  );
}
