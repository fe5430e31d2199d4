import type { FastifyRequest } from 'fastify';
import { type Kysely, sql } from 'kysely';
import type { DeprecatedCall } from '../http/index.js';
import { findApplication } from '../identity/index.js';
import type { Clock, Logger } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { InventoryAuditLog } from './audit-events.js';

/** The version a route belongs to: the first path segment when it is `v<n>`, otherwise `unversioned`. */
export function versionOf(url: string): string {
  return /^\/(v\d+)\//.exec(url)?.[1] ?? 'unversioned';
}

interface Pending {
  route: string;
  version: string;
  sunset: string;
  clientId: string;
  vehicleId: string;
  calls: number;
  firstAt: string;
  lastAt: string;
}

/** One row of `carapace inventory deprecated`: a client still calling a deprecated version. */
export interface DeprecatedUse {
  route: string;
  version: string;
  clientId: string;
  calls: number;
  vehicles: number;
  firstAt: string;
  lastAt: string;
}

/** Counts calls of deprecated versions in memory and adds them to the table (and the audit trail) in batches. */
export interface VersionUsage {
  /** Counts one call; the listener calls it once the response is sent. Never writes. */
  record(req: FastifyRequest, call: DeprecatedCall): void;
  /** Writes what was counted since the last flush; returns the rows written. */
  flush(): Promise<number>;
  start(): void;
  /** Stops the timer and flushes what is left. */
  stop(): Promise<void>;
  /** Who still calls which deprecated version, and when last, from the table (every node's flushes). */
  deprecatedUse(): Promise<DeprecatedUse[]>;
}

/** The usage counter over the inventory's table; `flushSeconds` bounds how long a count stays in memory only. */
export function createVersionUsage(deps: {
  db: Kysely<Database>;
  audit: InventoryAuditLog;
  clock: Clock;
  log: Logger;
  flushSeconds: number;
}): VersionUsage {
  let pending = new Map<string, Pending>();
  let timer: NodeJS.Timeout | null = null;
  let flushing: Promise<number> | null = null;

  const record = (req: FastifyRequest, call: DeprecatedCall) => {
    // Only a verified token names a client; an unauthenticated call is nobody's usage (its refusal is audited). A
    // call after the sunset is answered 410 before any token is read, so it names no client either.
    const clientId = req.token?.clientId;
    if (!clientId || !call.catalog.deprecation) return;
    // The vehicle only once the call was authorized for it: a probe of someone else's id counts no vehicle.
    const params = (req.params ?? {}) as Record<string, unknown>;
    const vehicleId = req.authorized && typeof params.vehicleId === 'string' ? params.vehicleId : '';
    const route = `${call.method} ${call.url}`;
    const key = JSON.stringify([route, clientId, vehicleId]);
    const at = deps.clock.now().toISOString();
    const entry = pending.get(key) ?? {
      route,
      version: versionOf(call.url),
      sunset: call.catalog.deprecation.sunset,
      clientId,
      vehicleId,
      calls: 0,
      firstAt: at,
      lastAt: at,
    };
    entry.calls += 1;
    entry.lastAt = at;
    pending.set(key, entry);
  };

  const write = async (batch: Pending[]) => {
    const tenants = new Map<string, string | null>();
    for (const p of batch)
      if (!tenants.has(p.clientId))
        tenants.set(p.clientId, (await findApplication(deps.db, p.clientId))?.tenant_id ?? null);
    await deps.db.transaction().execute(async (trx) => {
      for (const p of batch) {
        await trx
          .insertInto('api_version_usage')
          .values({
            route: p.route,
            version: p.version,
            client_id: p.clientId,
            vehicle_id: p.vehicleId,
            calls: p.calls,
            first_at: p.firstAt,
            last_at: p.lastAt,
          })
          .onConflict((oc) =>
            oc.columns(['route', 'version', 'client_id', 'vehicle_id']).doUpdateSet({
              calls: sql`api_version_usage.calls + ${p.calls}`,
              // Another node may have written a later call already: keep the later time.
              last_at: sql`case when api_version_usage.last_at > ${p.lastAt}
                then api_version_usage.last_at else ${p.lastAt} end`,
            }),
          )
          .execute();
      }
      // One event per client and route per flush, in the same transaction as the counts it reports.
      const perClient = new Map<string, Pending[]>();
      for (const p of batch)
        perClient.set(`${p.route}|${p.clientId}`, [...(perClient.get(`${p.route}|${p.clientId}`) ?? []), p]);
      for (const rows of perClient.values()) {
        const first = rows[0]!;
        await deps.audit.append(trx, {
          type: 'http.version.deprecated_used',
          actor: { type: 'application', id: first.clientId },
          applicationId: first.clientId,
          tenantId: tenants.get(first.clientId) ?? null,
          object: { type: 'route', id: first.route },
          action: 'api:call_deprecated',
          decision: 'info',
          reason: 'deprecated',
          details: {
            version: first.version,
            sunset: first.sunset,
            calls: rows.reduce((n, r) => n + r.calls, 0),
            vehicles: rows.filter((r) => r.vehicleId !== '').length,
            lastAt: rows
              .map((r) => r.lastAt)
              .sort()
              .at(-1)!,
          },
        });
      }
    });
  };

  const flushOnce = async () => {
    if (pending.size === 0) return 0;
    const batch = [...pending.values()];
    pending = new Map();
    try {
      await write(batch);
      return batch.length;
    } catch (err) {
      // Nothing counted is lost: the batch goes back and the next flush tries again.
      for (const p of batch) {
        const key = JSON.stringify([p.route, p.clientId, p.vehicleId]);
        const now = pending.get(key);
        if (now) {
          now.calls += p.calls;
          now.firstAt = p.firstAt;
        } else pending.set(key, p);
      }
      deps.log.warn({ err }, 'could not write the deprecated-version usage counts; kept for the next flush');
      return 0;
    }
  };

  const flush = async (): Promise<number> => {
    while (flushing) await flushing;
    flushing = flushOnce();
    try {
      return await flushing;
    } finally {
      flushing = null;
    }
  };

  return {
    record,
    flush,
    start() {
      if (timer || deps.flushSeconds <= 0) return;
      timer = setInterval(() => void flush(), deps.flushSeconds * 1000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await flush();
    },
    async deprecatedUse() {
      const rows = await deps.db
        .selectFrom('api_version_usage')
        .select(['route', 'version', 'client_id'])
        .select((eb) => [
          eb.fn.sum<number>('calls').as('calls'),
          eb.fn.count<number>(eb.fn('nullif', ['vehicle_id', sql.lit('')])).as('vehicles'),
          eb.fn.min('first_at').as('first_at'),
          eb.fn.max('last_at').as('last_at'),
        ])
        .groupBy(['route', 'version', 'client_id'])
        .orderBy('last_at', 'desc')
        .execute();
      return rows.map((r) => ({
        route: r.route,
        version: r.version,
        clientId: r.client_id,
        calls: Number(r.calls),
        vehicles: Number(r.vehicles),
        firstAt: r.first_at,
        lastAt: r.last_at,
      }));
    },
  };
}
