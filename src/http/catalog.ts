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
  status: 'stable' | 'beta' | 'deprecated';
}

/** Marks a route as added through the route definition; only the registrar can set it. */
const DEFINED = Symbol('carapace.route-definition');

declare module 'fastify' {
  interface FastifyContextConfig {
    catalog?: CatalogEntry;
    [DEFINED]?: true;
  }
}

/** The Fastify route config of a declared route: its catalog entry and the registrar's mark. */
export function definedConfig(catalog: CatalogEntry): { catalog: CatalogEntry; [DEFINED]: true } {
  return { catalog, [DEFINED]: true };
}

/** A route as recorded for the inventory. */
export interface CatalogedRoute {
  method: string;
  url: string;
  entry: CatalogEntry;
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
    const config = route.config as { catalog?: CatalogEntry; [DEFINED]?: true } | undefined;
    const entry = config?.catalog;
    if (!entry) throw new MissingCatalogEntryError(methods.join(','), route.url);
    if (config[DEFINED] !== true) throw new RawRouteError(methods.join(','), route.url);
    // Fastify adds a HEAD route for each GET on its own, sharing the GET's declaration: not a route of its own.
    if (methods.every((m) => m === 'HEAD') && routes.some((r) => r.method === 'GET' && r.url === route.url)) return;
    for (const method of methods) routes.push({ method, url: route.url, entry });
  });
  return routes;
}
