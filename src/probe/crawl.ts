import { randomUUID } from 'node:crypto';
import { type CheckReport, Tally } from './report.js';
import { observed, type ProbeSession } from './session.js';

/** One route to crawl: where it listens and whether its declaration says it authenticates. */
interface CrawlRoute {
  listener: 'public' | 'gateway' | 'admin';
  method: string;
  path: string;
  authenticated: boolean;
}

/** Answers that refuse an unauthenticated caller without saying more (a retired version answers 410 before any). */
const REFUSALS = new Set([0, 401, 403, 404, 410]);

/**
 * Every route of the API inventory, unauthenticated: a route that declares authentication must refuse (401,
 * 403, 404, or a TLS handshake that fails without a client certificate), never answer 2xx, a validation error
 * (which means it read the body before authenticating) or a 5xx. Anonymous routes are sent too and must not 5xx.
 */
export async function crawl(s: ProbeSession): Promise<CheckReport> {
  const t = new Tally('crawl');
  const routes = await inventory(s, t);
  const origin = { public: s.baseUrl, gateway: s.target.gatewayUrl, admin: s.target.adminUrl };
  const skippedListeners = new Set<string>();
  for (const r of routes) {
    const at = origin[r.listener];
    if (!at) {
      skippedListeners.add(r.listener);
      continue;
    }
    const path = r.path.replace(/:[A-Za-z]+|\{[A-Za-z]+\}/g, () => randomUUID());
    const body = r.method === 'GET' || r.method === 'DELETE' || r.method === 'HEAD' ? undefined : {};
    const res = await s.raw(`${at.replace(/\/$/, '')}${path}`, { method: r.method, body });
    const held = r.authenticated ? REFUSALS.has(res.status) : res.status < 500;
    t.record(held, {
      attack: r.authenticated ? 'unauthenticated call' : 'anonymous route does not fail',
      persona: 'anonymous',
      request: `${r.method} ${r.listener}:${path}`,
      expected: r.authenticated ? '401, 403 or 404' : 'no 5xx',
      observed: observed(res),
    });
  }
  for (const l of skippedListeners) t.skip(`the ${l} listener's routes: no --${l}-url given`);
  return t.report();
}

/** The routes to crawl: the admin plane's inventory of all three listeners, or else the public OpenAPI document. */
async function inventory(s: ProbeSession, t: Tally): Promise<CrawlRoute[]> {
  const { adminUrl, operator } = s.target;
  if (adminUrl && operator) {
    const res = await s.raw(`${adminUrl.replace(/\/$/, '')}/admin/v1/inventory`, { tls: operator });
    const rows = (res.json as { routes?: InventoryRow[] } | null)?.routes;
    if (res.status === 200 && rows) return rows.filter((r) => r.method !== 'HEAD').map(fromInventory);
    t.skip(`the admin inventory answered ${observed(res)}: crawling the public OpenAPI document only`);
  } else t.skip('no operator certificate: crawling the public OpenAPI document only, not the inventory');
  const res = await s.raw(`${s.baseUrl}/openapi.json`);
  const doc = res.json as { paths?: Record<string, Record<string, { security?: unknown[] }>> } | null;
  if (res.status !== 200 || !doc?.paths) {
    t.skip(`GET /openapi.json answered ${observed(res)}: no route list to crawl`);
    return [];
  }
  const out: CrawlRoute[] = [];
  for (const [path, ops] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(ops))
      if (['get', 'post', 'put', 'patch', 'delete'].includes(method))
        out.push({ listener: 'public', method: method.toUpperCase(), path, authenticated: !!op.security?.length });
  return out;
}

interface InventoryRow {
  listener: CrawlRoute['listener'];
  method: string;
  path: string;
  authentication: { kind: string };
}

// The authorization server's own endpoints (oauth-protocol) speak OAuth errors, not the route framework's.
const fromInventory = (r: InventoryRow): CrawlRoute => ({
  listener: r.listener,
  method: r.method,
  path: r.path,
  authenticated: r.authentication.kind !== 'anonymous' && r.authentication.kind !== 'oauth-protocol',
});
