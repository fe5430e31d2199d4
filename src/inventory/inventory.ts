import type { AuditActivity } from '../audit/index.js';
import type { Config } from '../config/index.js';
import { type CatalogedRoute, isRetired } from '../http/index.js';
import { leafFields } from './fields.js';
import { operationId } from './openapi-operation.js';
import type { Plane } from './openapi.js';
import { rateExpectations } from './rates.js';
import { versionOf } from './usage.js';

const UNKNOWN = 'unknown';

/** One route of the API inventory (issue 15 item 2); `unknown` wherever the code declares nothing. */
export interface InventoryRow {
  listener: Plane;
  method: string;
  path: string;
  version: string;
  status: 'stable' | 'beta' | 'deprecated' | 'retired';
  owner: string;
  businessOwner: string;
  purpose: string;
  dataExposed: string[];
  commandsExposed: string[];
  callers: string[];
  authentication: { kind: string; audience: string | null; scopes: string[] };
  authorization: { action: string; visibleWith: string | null; policies: string[] };
  objects: string[];
  exposure: { listener: Plane; address: string };
  regions: string;
  schema: { operationId: string; request: string[]; responses: string[] };
  consumersSeen: string[];
  rateExpectations: string[];
  logging: { always: string[]; seen: string[] };
  classification: string;
  safetyImpact: string;
  privacyImpact: string;
  financialImpact: string;
  decommission: { sunset: string | null; migration: string | null; successor: string | null };
  lastSecurityReview: string;
  knownExceptions: string[] | 'unknown';
}

/** The live and configured facts the inventory joins to the route declarations. */
export interface InventorySources {
  routes: Record<Plane, CatalogedRoute[]>;
  config: Pick<Config, 'auth' | 'claims' | 'serviceCases' | 'commands' | 'telemetry' | 'listeners'>;
  /** Cedar policy text by `@id`. */
  policies: Record<string, string>;
  /** The audit trail's events over the governance window, per type, action, decision and client. */
  activity: AuditActivity[];
  commands: ReadonlyArray<{ name: string; disallowedRegions: readonly string[] }>;
  now: Date;
}

/** The Cedar policies that can decide an action: those naming it, and those that constrain no action at all. */
export function policiesFor(action: string, policies: Record<string, string>): string[] {
  return Object.entries(policies)
    .filter(([, text]) => text.includes(`Action::"${action}"`) || !/Action::"/.test(text))
    .map(([id]) => id)
    .sort();
}

/** The kinds of object named by a route's path parameters (`vehicleId` -> `Vehicle`). */
function objectsOf(route: CatalogedRoute): string[] {
  if (route.entry.inventory?.objects) return [...route.entry.inventory.objects];
  const params = [...route.url.matchAll(/:(\w+?)(?:Id)?(?=\/|$)/g)].map((m) => m[1]!);
  const kinds = params.filter((p) => p !== 'file' && p !== 'uid').map((p) => p[0]!.toUpperCase() + p.slice(1));
  return kinds.length > 0 ? kinds : [UNKNOWN];
}

function regionsOf(route: CatalogedRoute, s: InventorySources): string {
  if (route.entry.action === 'vehicle:command' || route.entry.action === 'fleet:command') {
    const barred = s.commands.filter((c) => c.disallowedRegions.length > 0);
    return barred.length === 0
      ? 'every region'
      : `every region except: ${barred.map((c) => `${c.name} not in ${c.disallowedRegions.join(',')}`).join('; ')}`;
  }
  if (route.entry.action.startsWith('telemetry:') && s.config.telemetry.regions.length > 0)
    return `positions judged against ${s.config.telemetry.regions.map((r) => r.split(':')[0]).join(', ')}`;
  return UNKNOWN;
}

/** The API inventory: every route of the three listeners, from its declaration, the configuration and the trail. */
export function buildInventory(s: InventorySources): InventoryRow[] {
  const rows: InventoryRow[] = [];
  for (const [listener, routes] of Object.entries(s.routes) as Array<[Plane, CatalogedRoute[]]>) {
    const l = s.config.listeners[listener];
    for (const r of routes.filter((x) => x.method !== 'HEAD')) {
      const e = r.entry;
      const seen = s.activity.filter((a) => a.action === e.action);
      const responses = Object.keys((r.schema.response ?? {}) as Record<string, unknown>);
      rows.push({
        listener,
        method: r.method,
        path: r.url,
        version: versionOf(r.url),
        status: isRetired(e, s.now) ? 'retired' : e.status,
        owner: e.owner,
        businessOwner: e.inventory?.businessOwner ?? UNKNOWN,
        purpose: e.purpose,
        dataExposed: responses
          .filter((c) => c.startsWith('2'))
          .flatMap((c) => [...leafFields((r.schema.response as Record<string, unknown>)[c]).keys()])
          .filter((v, i, all) => all.indexOf(v) === i),
        commandsExposed: /^(vehicle|fleet):command$/.test(e.action) ? s.commands.map((c) => c.name) : [],
        callers: [...e.callers],
        authentication: {
          kind: r.facts.auth.kind,
          audience: r.facts.auth.token?.audience ?? null,
          scopes: [...e.scopes],
        },
        authorization: {
          action: e.action,
          visibleWith: r.facts.visibleWith ?? null,
          policies: r.facts.auth.kind === 'token' ? policiesFor(e.action, s.policies) : [],
        },
        objects: objectsOf(r),
        exposure: { listener, address: `${l.host}:${l.port}` },
        regions: regionsOf(r, s),
        schema: {
          operationId: operationId(r.method, r.url),
          request: (['params', 'querystring', 'body'] as const).filter((k) => r.schema[k] !== undefined),
          responses,
        },
        consumersSeen: [...new Set(seen.map((a) => a.applicationId).filter((c): c is string => !!c))].sort(),
        rateExpectations: rateExpectations(e.action, s.config),
        logging: {
          always: r.facts.auth.kind === 'token' ? ['authz.decision'] : [],
          seen: [...new Set(seen.map((a) => a.type))].sort(),
        },
        classification: e.classification,
        safetyImpact: e.safetyImpact,
        privacyImpact: e.inventory?.privacyImpact ?? UNKNOWN,
        financialImpact: e.inventory?.financialImpact ?? UNKNOWN,
        decommission: {
          sunset: e.deprecation?.sunset ?? null,
          migration: e.deprecation?.migration ?? null,
          successor: e.deprecation?.successor ?? null,
        },
        lastSecurityReview: e.inventory?.lastSecurityReview ?? UNKNOWN,
        knownExceptions: e.inventory?.exceptions ? [...e.inventory.exceptions] : UNKNOWN,
      });
    }
  }
  return rows;
}
