import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { ACTION_DEFS } from './actions.js';

/** p50 / p95 / max of a set of durations (milliseconds), and how many there were. */
export interface Distribution {
  count: number;
  p50Ms: number | null;
  p95Ms: number | null;
  maxMs: number | null;
}

/** The response governance numbers over a window. */
export interface ResponseGovernance {
  window: { from: string; to: string };
  /** From incident open (or its findings' first sighting, when earlier) to the containment step taking effect. */
  timeToRevoke: { vehicle: Distribution; user: Distribution; partner: Distribution; service: Distribution };
  /** Incident open -> scoping done, over incidents scoped in the window. */
  timeToIdentifyAffectedVehicles: { count: number; meanMs: number | null };
  crossTenantAuthorizationFailures: { count: number; source: string };
  incidents: { opened: number; contained: number; closed: number; falsePositives: number };
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function distribution(values: number[]): Distribution {
  const s = [...values].sort((a, b) => a - b);
  return { count: s.length, p50Ms: percentile(s, 50), p95Ms: percentile(s, 95), maxMs: s.at(-1) ?? null };
}

const CONTAINMENT = Object.entries(ACTION_DEFS)
  .filter(([, d]) => d.containment)
  .map(([a]) => a);

/**
 * Computes the numbers from the incidents tables: containment steps that took effect in the window (first per
 * incident and kind), scoping of incidents opened in the window, and the cross-tenant denials in the audit trail.
 */
export async function responseGovernance(
  db: Kysely<Database>,
  window: { from: string; to: string },
  crossTenantDenials: (window: { from: string; to: string }) => Promise<number>,
) {
  const steps = await db
    .selectFrom('incident_steps')
    .innerJoin('incident_records', 'incident_records.id', 'incident_steps.incident_id')
    .select([
      'incident_steps.incident_id',
      'incident_steps.target_kind',
      'incident_steps.effective_at',
      'incident_records.opened_at',
      'incident_records.first_seen',
    ])
    .where('incident_steps.state', '=', 'done')
    .where('incident_steps.action', 'in', CONTAINMENT)
    .where('incident_steps.effective_at', '>=', window.from)
    .where('incident_steps.effective_at', '<=', window.to)
    .execute();
  const first = new Map<string, number>();
  for (const s of steps) {
    const start = Math.min(Date.parse(s.opened_at), s.first_seen ? Date.parse(s.first_seen) : Infinity);
    const ms = Date.parse(s.effective_at!) - start;
    const key = `${s.incident_id}|${s.target_kind}`;
    if (!first.has(key) || ms < first.get(key)!) first.set(key, ms);
  }
  const of = (kind: string) => [...first].filter(([k]) => k.endsWith(`|${kind}`)).map(([, ms]) => ms);
  const incidents = await db
    .selectFrom('incident_records')
    .select(['opened_at', 'scope_done_at', 'contained_at', 'closed_at', 'resolution'])
    .where('opened_at', '>=', window.from)
    .where('opened_at', '<=', window.to)
    .execute();
  const scoped = incidents
    .filter((i) => i.scope_done_at)
    .map((i) => Date.parse(i.scope_done_at!) - Date.parse(i.opened_at));
  const cross = await crossTenantDenials(window);
  return {
    window,
    timeToRevoke: {
      vehicle: distribution(of('vehicle')),
      user: distribution(of('user')),
      partner: distribution(of('partner')),
      service: distribution(of('service')),
    },
    timeToIdentifyAffectedVehicles: {
      count: scoped.length,
      meanMs: scoped.length ? Math.round(scoped.reduce((a, b) => a + b, 0) / scoped.length) : null,
    },
    crossTenantAuthorizationFailures: {
      count: cross,
      source: 'authz.decision denials whose caller and object belong to different tenants (details.crossTenant)',
    },
    incidents: {
      opened: incidents.length,
      contained: incidents.filter((i) => i.contained_at).length,
      closed: incidents.filter((i) => i.closed_at).length,
      falsePositives: incidents.filter((i) => i.resolution === 'false_positive').length,
    },
  } satisfies ResponseGovernance;
}
