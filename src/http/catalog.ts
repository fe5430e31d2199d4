import type { RouteOptions } from 'fastify';
import type { App } from './app.js';

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

declare module 'fastify' {
  interface FastifyContextConfig {
    catalog?: CatalogEntry;
  }
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

/**
 * Makes the catalog mandatory on an app: registering a route without `config.catalog` throws, so startup
 * fails. Returns the list of registered routes for the inventory.
 */
export function enforceCatalog(app: App): CatalogedRoute[] {
  const routes: CatalogedRoute[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    // Fastify adds a HEAD route for each GET on its own, sharing the GET's entry: not a route of its own.
    if (methods.every((m) => m === 'HEAD') && routes.some((r) => r.method === 'GET' && r.url === route.url)) return;
    const entry = route.config?.catalog;
    if (!entry) throw new MissingCatalogEntryError(methods.join(','), route.url);
    for (const method of methods) routes.push({ method, url: route.url, entry });
  });
  return routes;
}
