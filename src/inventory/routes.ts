import { readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import type { CatalogEntry, RouteRegistrar } from '../http/index.js';
import { CarapaceError, type Clock } from '../platform/index.js';
import { GOVERNANCE_MEASURES } from './governance.js';
import type { GovernanceHistory } from './history.js';
import { PLANES } from './openapi.js';
import type { InventoryService } from './service.js';
import { DeprecatedUseView, GovernanceMetricView, GovernanceSeriesView, InventoryRowView } from './views.js';

const closed = { additionalProperties: false } as const;
const JsonText = { content: { 'application/json': { schema: Type.String() } } };
/** The migration notes shipped with Carapace (the same path from src/ and dist/). */
const MIGRATIONS = new URL('../../docs/migrations/', import.meta.url);

const publicEntry = (purpose: string, action: string): CatalogEntry => ({
  owner: 'inventory',
  purpose,
  callers: ['anonymous'],
  action,
  classification: 'public',
  scopes: [],
  safetyImpact: 'none',
  status: 'beta',
});
const adminEntry = (purpose: string, action: string): CatalogEntry => ({
  ...publicEntry(purpose, action),
  callers: ['operator'],
  classification: 'restricted',
});

/** The public listener's contract: its OpenAPI document and the migration notes deprecated versions link to. */
export function registerInventoryPublicRoutes<Spec>(
  routes: RouteRegistrar<Spec>,
  deps: { inventory: Pick<InventoryService, 'document'> },
): void {
  const auth = { kind: 'anonymous' } as const;
  routes.get(
    '/openapi.json',
    {
      auth,
      catalog: publicEntry(
        'The OpenAPI 3.1 document of the public API, generated from its routes.',
        'inventory:openapi',
      ),
      schema: { response: { 200: JsonText } },
    },
    async (_req, reply) =>
      reply.type('application/json; charset=utf-8').send(JSON.stringify(deps.inventory.document('public'))),
  );
  routes.get(
    '/api-migrations/:note',
    {
      auth,
      catalog: publicEntry(
        'A migration note a deprecated version links to (Link rel="deprecation").',
        'inventory:migration_note',
      ),
      schema: {
        params: Type.Object({ note: Type.String({ pattern: '^[a-z0-9-]{1,64}$' }) }, closed),
        response: { 200: { content: { 'text/markdown': { schema: Type.String() } } } },
      },
    },
    async (req, reply) => {
      let text: string;
      try {
        text = readFileSync(new URL(`${req.params.note}.md`, MIGRATIONS), 'utf8');
      } catch {
        throw new CarapaceError('ERR_NOT_FOUND', 'no such migration note');
      }
      return reply.type('text/markdown; charset=utf-8').send(text);
    },
  );
}

/** The admin plane's inventory: every listener's document, the inventory, deprecated usage, governance. */
export function registerInventoryAdminRoutes(
  routes: RouteRegistrar<never>,
  deps: { inventory: InventoryService; history: Pick<GovernanceHistory, 'series'>; clock: Clock },
): void {
  const auth = { kind: 'operator' } as const;
  const NoQuery = Type.Object({}, closed);
  routes.get(
    '/admin/v1/openapi/:plane',
    {
      auth,
      catalog: adminEntry('The OpenAPI 3.1 document of one listener (public, gateway or admin).', 'inventory:openapi'),
      schema: {
        params: Type.Object({ plane: Type.Union(PLANES.map((p) => Type.Literal(p))) }, closed),
        querystring: NoQuery,
        response: { 200: JsonText },
      },
    },
    async (req, reply) =>
      reply.type('application/json; charset=utf-8').send(JSON.stringify(deps.inventory.document(req.params.plane))),
  );
  routes.get(
    '/admin/v1/inventory',
    {
      auth,
      catalog: adminEntry(
        'The API inventory: every route with its owner, exposure, security, consumers and impact.',
        'inventory:read',
      ),
      schema: {
        querystring: NoQuery,
        response: { 200: Type.Object({ routes: Type.Array(InventoryRowView) }, closed) },
      },
    },
    async () => ({ routes: await deps.inventory.inventory() }),
  );
  routes.get(
    '/admin/v1/inventory/deprecated',
    {
      auth,
      catalog: adminEntry('Who still calls deprecated API versions, how often, and when last.', 'inventory:read'),
      schema: {
        querystring: NoQuery,
        response: { 200: Type.Object({ usage: Type.Array(DeprecatedUseView) }, closed) },
      },
    },
    async () => ({ usage: await deps.inventory.deprecated() }),
  );
  routes.get(
    '/admin/v1/governance',
    {
      auth,
      catalog: adminEntry(
        'The eleven governance measures, from live data; null with a reason until data exists.',
        'inventory:governance',
      ),
      schema: {
        querystring: NoQuery,
        response: {
          200: Type.Object(
            {
              window: Type.Object({ from: Type.String(), to: Type.String() }, closed),
              metrics: Type.Array(GovernanceMetricView),
            },
            closed,
          ),
        },
      },
    },
    async () => deps.inventory.governance(),
  );
  registerHistoryRoute(routes, deps);
}

const WEEK_MS = 7 * 86_400_000;

/** `GET /admin/v1/governance/history`: the recorded snapshots of one measure (or all) over a time range. */
function registerHistoryRoute(
  routes: RouteRegistrar<never>,
  deps: { history: Pick<GovernanceHistory, 'series'>; clock: Clock },
): void {
  routes.get(
    '/admin/v1/governance/history',
    {
      auth: { kind: 'operator' },
      catalog: adminEntry(
        'The governance numbers over time (snapshots every inventory.governanceSnapshotInterval), per series.',
        'inventory:governance',
      ),
      schema: {
        querystring: Type.Object(
          {
            measure: Type.Optional(Type.Union(GOVERNANCE_MEASURES.map((m) => Type.Literal(m)))),
            name: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_]{0,79}$' })),
            from: Type.Optional(Type.String({ format: 'date-time' })),
            to: Type.Optional(Type.String({ format: 'date-time' })),
          },
          closed,
        ),
        response: {
          200: Type.Object(
            {
              from: Type.String(),
              to: Type.String(),
              truncated: Type.Boolean(),
              series: Type.Array(GovernanceSeriesView),
            },
            closed,
          ),
        },
      },
    },
    async (req) => {
      // The default range is the last week, ending now on the server's clock.
      const to = req.query.to ? new Date(req.query.to) : deps.clock.now();
      const from = req.query.from ? new Date(req.query.from) : new Date(to.getTime() - WEEK_MS);
      const out = await deps.history.series({ measure: req.query.measure, name: req.query.name, from, to });
      return { from: from.toISOString(), to: to.toISOString(), ...out };
    },
  );
}
