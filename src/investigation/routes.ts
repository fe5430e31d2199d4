import type { RouteRegistrar } from '../http/index.js';
import type { Followable } from './expand.js';
import type { Investigator } from './investigate.js';
import { InvestigationQueryString, InvestigationView } from './schema.js';

/** The admin plane's investigation route: the connected graph around one pivot in a window. */
export function registerInvestigationRoutes(routes: RouteRegistrar, deps: { investigator: Investigator }): void {
  routes.get(
    '/admin/v1/investigations',
    {
      auth: { kind: 'operator' },
      catalog: {
        owner: 'investigation',
        purpose:
          'Investigate from a pivot (request, trace, jti, user, client, device, certificate, source, job, vehicle): ' +
          'the requests, identities, vehicles, commands, telemetry, decisions and events, bounded and proof-backed.',
        action: 'audit:read',
        callers: ['operator'],
        classification: 'restricted',
        scopes: [],
        status: 'beta',
        safetyImpact: 'none',
      },
      schema: { querystring: InvestigationQueryString, response: { 200: InvestigationView } },
    },
    async (req) => {
      const q = req.query;
      return deps.investigator.investigate({
        pivot: q.pivot,
        value: q.value,
        from: q.from,
        to: q.to,
        follow: q.follow === undefined ? undefined : (q.follow.split(',') as Followable[]),
        maxEvents: q.maxEvents === undefined ? undefined : Number(q.maxEvents),
        maxHops: q.maxHops === undefined ? undefined : Number(q.maxHops),
        proofs: q.proofs === 'true',
      });
    },
  );
}
