import type { RouteOptions } from 'fastify';
import type { App } from './listener-type.js';

/** Who may call a route. Identities are never collapsed. */
export type CallerType = 'anonymous' | 'device' | 'factory-device' | 'operator' | 'user' | 'application' | 'workload';

/** The catalog entry every route must declare (DESIGN rule 1). The API inventory is built from these. */
export interface CatalogEntry {
  /** Owning module (team), e.g. `pki`. */
  owner: string;
  /** One sentence: what the route is for. */
  purpose: string;
  callers: readonly CallerType[];
  /** The action name checked and audited for this route. */
  action: string;
  classification: 'public' | 'internal' | 'confidential' | 'restricted';
  /** OAuth scopes required (none for certificate-authenticated device and operator routes). */
  scopes: readonly string[];
  safetyImpact: 'none' | 'low' | 'high';
  /** A `deprecated` route must declare its `deprecation`; once its sunset has passed it answers 410. */
  status: 'stable' | 'beta' | 'deprecated';
  /** When and how a deprecated version goes away (RFC 9745 / RFC 8594); required when `status` is `deprecated`. */
  deprecation?: Deprecation;
  /** Facts the API inventory shows; anything not declared is shown as `unknown`, never guessed. */
  inventory?: InventoryFacts;
}

/** The deprecation of one version of a route. */
export interface Deprecation {
  /** When the version was (or will be) deprecated: ISO 8601 instant, sent as `Deprecation: @<unix-seconds>`. */
  since: string;
  /** When it stops answering (ISO 8601 instant): sent as `Sunset`; from then on the route answers 410. */
  sunset: string;
  /** Path of the migration note on the public listener, sent as `Link: <...>; rel="deprecation"`. */
  migration: string;
  /** The route that replaces it, e.g. `GET /v2/vehicles/:vehicleId/status`. */
  successor: string;
}

/** What the inventory needs beyond the security declaration; every field is optional and shown as declared. */
export interface InventoryFacts {
  /** The business owner (a person or team accountable for the route), where one is named. */
  businessOwner?: string;
  /** The kinds of object the route reads or changes (`Vehicle`, `Account`). */
  objects?: readonly string[];
  privacyImpact?: 'none' | 'low' | 'high';
  financialImpact?: 'none' | 'low' | 'high';
  /** Date (YYYY-MM-DD) of the last security review of this route. */
  lastSecurityReview?: string;
  /** Known exceptions to the platform's rules, each one sentence. */
  exceptions?: readonly string[];
}

/** Marks a route as added through the route definition; only the registrar can set it. */
const DEFINED = Symbol('carapace.route-definition');

declare module 'fastify' {
  interface FastifyContextConfig {
    catalog?: CatalogEntry;
    [DEFINED]?: true;
    [DECLARED]?: RouteFacts;
  }
}

/** What the registrar records of a declaration besides its catalog entry: for the OpenAPI documents. */
export interface RouteFacts {
  auth: { kind: string; token?: { audience: string; scopes: readonly string[]; anyScope?: boolean } };
  /** The authorize spec's `visibleWith`: a denial of the route's action answers 403 instead of 404. */
  visibleWith?: string;
  websocket: boolean;
}

const DECLARED = Symbol('carapace.route-facts');

/** The Fastify route config of a declared route: its catalog entry, its facts and the registrar's mark. */
export function definedConfig(
  catalog: CatalogEntry,
  facts: RouteFacts,
): { catalog: CatalogEntry; [DEFINED]: true; [DECLARED]: RouteFacts } {
  return { catalog, [DEFINED]: true, [DECLARED]: facts };
}

/** A route as recorded for the inventory and the OpenAPI documents. */
export interface CatalogedRoute {
  method: string;
  url: string;
  entry: CatalogEntry;
  facts: RouteFacts;
  /** The route's schemas as Fastify received them (JSON Schema, TypeBox-built). */
  schema: Record<string, unknown>;
}

/** Error raised at startup when a route has no catalog entry. */
export class MissingCatalogEntryError extends Error {
  constructor(method: string, url: string) {
    super(`route ${method} ${url} has no catalog entry (config.catalog); every route must declare one`);
    this.name = 'MissingCatalogEntryError';
  }
}

/** Error raised at startup when a route is registered on a listener directly instead of through a registrar. */
export class RawRouteError extends Error {
  constructor(method: string, url: string) {
    super(`route ${method} ${url} was registered raw; declare it through the listener's route registrar`);
    this.name = 'RawRouteError';
  }
}

/**
 * Guards a listener: registering a route that did not come through the route definition (a raw
 * `app.get`/`app.route`, a plugin's own route) throws, so startup fails; so does a route without a catalog
 * entry. Returns the list of registered routes for the inventory.
 */
export function guardRoutes(app: App): CatalogedRoute[] {
  const routes: CatalogedRoute[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const config = route.config as { catalog?: CatalogEntry; [DEFINED]?: true; [DECLARED]?: RouteFacts } | undefined;
    const entry = config?.catalog;
    if (!entry) throw new MissingCatalogEntryError(methods.join(','), route.url);
    if (config[DEFINED] !== true) throw new RawRouteError(methods.join(','), route.url);
    // Fastify adds a HEAD route for each GET on its own, sharing the GET's declaration: not a route of its own.
    if (methods.every((m) => m === 'HEAD') && routes.some((r) => r.method === 'GET' && r.url === route.url)) return;
    const facts = config[DECLARED] ?? { auth: { kind: 'unknown' }, websocket: false };
    const schema = (route.schema ?? {}) as Record<string, unknown>;
    for (const method of methods) routes.push({ method, url: route.url, entry, facts, schema });
  });
  return routes;
}
