import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../platform/index.js';
import type { CatalogEntry, Deprecation } from './catalog.js';
import { sendProblem } from './problem.js';

/** A call of a deprecated (or retired) version, as the listener reports it once the response is sent. */
export interface DeprecatedCall {
  method: string;
  url: string;
  catalog: CatalogEntry;
  /** True when the version was past its sunset and the call was answered 410. */
  retired: boolean;
}

/** What a listener needs to serve more than one version of a route: a clock, and where deprecated calls go. */
export interface ListenerVersions {
  clock: Clock;
  /** Counts a call of a deprecated version (batched by the inventory; never a write per request). */
  deprecatedCall?: (req: FastifyRequest, call: DeprecatedCall) => void;
}

/** Why a deprecation is not well formed, or null. */
export function deprecationProblem(d: Deprecation | undefined, status: CatalogEntry['status']): string | null {
  if (status !== 'deprecated') return d ? 'declares a deprecation but its status is not deprecated' : null;
  if (!d) return 'is deprecated but declares no deprecation (since, sunset, migration, successor)';
  const since = Date.parse(d.since);
  const sunset = Date.parse(d.sunset);
  if (!Number.isFinite(since) || !Number.isFinite(sunset)) return 'has a deprecation whose dates do not parse';
  if (sunset <= since) return 'has a sunset that is not after its deprecation';
  if (!d.migration.startsWith('/')) return 'has a migration note that is not a path on the public listener';
  return null;
}

/** The successor's path for this request: its `:name` parameters filled from the request's own. */
function successorPath(successor: string, req: FastifyRequest): string {
  const path = successor.slice(successor.indexOf(' ') + 1);
  const params = (req.params ?? {}) as Record<string, unknown>;
  return path.replace(/:(\w+)/g, (_m, name: string) => encodeURIComponent(String(params[name] ?? '')));
}

/** RFC 9110 HTTP-date of an ISO instant. */
export function httpDate(iso: string): string {
  return new Date(iso).toUTCString();
}

/**
 * The first request step of a deprecated version: it announces the deprecation (RFC 9745 `Deprecation`, RFC 8594
 * `Sunset`, a `Link` to the migration note and the successor) and, once the sunset has passed, answers 410 before
 * any authentication runs: a retired version does nothing and tells nothing beyond where to go.
 */
export function deprecationHook(
  where: string,
  d: Deprecation,
  versions: ListenerVersions,
): (req: FastifyRequest, reply: FastifyReply) => Promise<unknown> {
  const since = Math.floor(Date.parse(d.since) / 1000);
  const sunset = Date.parse(d.sunset);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const successor = successorPath(d.successor, req);
    reply.header('deprecation', `@${since}`);
    reply.header('sunset', httpDate(d.sunset));
    reply.header(
      'link',
      `<${d.migration}>; rel="deprecation"; type="text/markdown", <${successor}>; rel="successor-version"`,
    );
    if (versions.clock.now().getTime() < sunset) return undefined;
    return sendProblem(reply, 'ERR_API_VERSION_RETIRED', `${where} was retired at ${d.sunset}; call ${successor}`, {
      successor,
    });
  };
}

/** Whether a deprecated route is past its sunset at `now`. */
export function isRetired(entry: CatalogEntry, now: Date): boolean {
  return entry.deprecation !== undefined && now.getTime() >= Date.parse(entry.deprecation.sunset);
}
