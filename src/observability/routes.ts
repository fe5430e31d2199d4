import { Type } from '@sinclair/typebox';
import type { CatalogEntry, RouteRegistrar } from '../http/index.js';
import type { Metrics } from './metrics.js';

const METRICS: CatalogEntry = {
  owner: 'observability',
  purpose: 'Prometheus metrics of this node: requests, decisions, telemetry, jobs, handshakes, health.',
  callers: ['operator'],
  action: 'observability:metrics:read',
  classification: 'internal',
  scopes: [],
  safetyImpact: 'none',
  status: 'stable',
};

/**
 * Registers `GET /metrics` on the admin plane. It sits behind the operator certificate like every admin route
 * (Prometheus scrapes with `tls_config.cert_file`/`key_file`), rather than on an open listener of its own: the
 * numbers show, request by request, what a deployment refuses, which an attacker on the network should not watch.
 */
export function registerMetricsRoute(routes: RouteRegistrar<never>, deps: { metrics: Metrics }): void {
  routes.get(
    '/metrics',
    {
      auth: { kind: 'operator' },
      catalog: METRICS,
      schema: { response: { 200: { content: { 'text/plain': { schema: Type.String() } } } } },
    },
    async (_req, reply) => reply.type(deps.metrics.contentType).send(await deps.metrics.render()),
  );
}
