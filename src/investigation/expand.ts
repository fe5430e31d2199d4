import type { AuditPivot, AuditPivotSearch, StoredAuditEvent } from '../audit/index.js';

/** The links an expansion may follow from the events it found, beyond the pivot it started from. */
export const FOLLOWABLE = ['request', 'job', 'jti', 'trace', 'serial', 'device'] as const;
/** A link kind an expansion may follow. */
export type Followable = (typeof FOLLOWABLE)[number];

/**
 * Followed unless the caller says otherwise: a request (everything one HTTP call caused) and a command job (its
 * whole lifecycle, including the device's acknowledgement). Both are narrow: they never fan out to an owner's
 * other vehicles. A token, a trace or a device is followed only on request: a job reached from a compromised
 * device names its requester's token, and following that would list every vehicle the owner touched. Trace ids
 * come from the caller's `traceparent`, so following them by default would let a caller graft events onto
 * someone else's trace.
 */
export const DEFAULT_FOLLOW: readonly Followable[] = ['request', 'job'];

/** The bounds of one expansion; each one that cuts the answer short is named in `truncation`. */
export interface ExpansionBounds {
  from: string;
  to: string;
  maxEvents: number;
  maxHops: number;
  /** Pivots searched per hop at most. */
  maxPivotsPerHop: number;
}

/** What an expansion collected: the events in seq order, the pivots it searched, and what cut it short. */
export interface Expansion {
  events: StoredAuditEvent[];
  searched: { kind: AuditPivot; value: string; hop: number; events: number }[];
  hops: number;
  truncation: string[];
}

type Pivot = { kind: AuditPivot; value: string };
/** Rows an expansion may read in all, as a multiple of `maxEvents`. */
const READ_FACTOR = 4;
const key = (p: Pivot) => `${p.kind}\u0000${p.value}`;

/** The links of one event of the kinds in `follow` (object, details and context, as the writers record them). */
export function linksOf(e: StoredAuditEvent, follow: readonly Followable[]): Pivot[] {
  const out: Pivot[] = [];
  const want = new Set(follow);
  const str = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= 200 ? v : null);
  const push = (kind: Followable, v: unknown) => {
    const value = str(v);
    if (want.has(kind) && value) out.push({ kind, value });
  };
  push('request', e.context.requestId);
  push('trace', e.context.traceId);
  push('jti', e.details.jti);
  push('serial', e.details.serial);
  push('device', e.details.deviceId);
  if (e.actor.type === 'device') push('device', e.actor.id);
  const type = e.object?.type.toLowerCase().replaceAll('_', '');
  if (type === 'commandjob') push('job', e.object?.id);
  if (type === 'device') push('device', e.object?.id);
  // The token's own events name it as their object (auth.token.issued), a certificate's its serial.
  if (type === 'accesstoken') push('jti', e.object?.id);
  if (type === 'certificate') push('serial', e.object?.id);
  return out;
}

/**
 * Expands from a pivot over the audit trail: searches it, then the links of what it found, hop by hop, until
 * nothing new is linked or a bound is reached. Every search is one bounded index range (src/audit/pivot-search.ts).
 */
export async function expand(
  search: AuditPivotSearch,
  seed: Pivot,
  follow: readonly Followable[],
  bounds: ExpansionBounds,
): Promise<Expansion> {
  const found = new Map<string, StoredAuditEvent>();
  const seen = new Set<string>([key(seed)]);
  const out: Expansion = { events: [], searched: [], hops: 0, truncation: [] };
  // Rows read in all, duplicates included: without it, pivots that keep finding the same events (a reused trace
  // id) would read up to maxPivotsPerHop x maxEvents rows per hop without adding one.
  const budget = { left: bounds.maxEvents * READ_FACTOR };
  let frontier: Pivot[] = [seed];
  for (let hop = 0; frontier.length > 0; hop++) {
    if (hop > bounds.maxHops) {
      out.truncation.push(`maxHops: ${frontier.length} linked pivot(s) beyond hop ${bounds.maxHops} not searched`);
      break;
    }
    if (frontier.length > bounds.maxPivotsPerHop) {
      out.truncation.push(`maxPivotsPerHop: hop ${hop} searched ${bounds.maxPivotsPerHop} of ${frontier.length}`);
      frontier = frontier.slice(0, bounds.maxPivotsPerHop);
    }
    out.hops = hop;
    const fresh = await searchHop(search, frontier, hop, { ...bounds, budget }, found, out);
    if (found.size >= bounds.maxEvents || budget.left <= 0) break;
    frontier = fresh.flatMap((e) => linksOf(e, follow)).filter((p) => !seen.has(key(p)) && seen.add(key(p)));
  }
  out.events = [...found.values()].sort((a, b) => a.seq - b.seq);
  return out;
}

async function searchHop(
  search: AuditPivotSearch,
  frontier: Pivot[],
  hop: number,
  bounds: ExpansionBounds & { budget: { left: number } },
  found: Map<string, StoredAuditEvent>,
  out: Expansion,
): Promise<StoredAuditEvent[]> {
  const fresh: StoredAuditEvent[] = [];
  for (const p of frontier) {
    if (bounds.budget.left <= 0) {
      out.truncation.push(`maxRead: stopped after reading ${bounds.maxEvents * READ_FACTOR} rows during hop ${hop}`);
      break;
    }
    const room = Math.min(bounds.maxEvents - found.size, bounds.budget.left);
    if (bounds.maxEvents - found.size <= 0) {
      out.truncation.push(`maxEvents: stopped at ${bounds.maxEvents} events during hop ${hop}`);
      break;
    }
    const { events, truncated, mismatched } = await search.find({
      ...p,
      from: bounds.from,
      to: bounds.to,
      limit: room,
    });
    bounds.budget.left -= events.length;
    out.searched.push({ ...p, hop, events: events.length });
    if (truncated) out.truncation.push(`maxEvents: ${p.kind}=${p.value} matched more than the ${room} taken`);
    // An index row whose event does not name the pivot: forged or stale, so the index may miss events too.
    if (mismatched > 0)
      out.truncation.push(`pivotIndex: ${mismatched} audit_pivots row(s) for ${p.kind}=${p.value} name no such event`);
    for (const e of events)
      if (!found.has(e.id)) {
        found.set(e.id, e);
        fresh.push(e);
      }
  }
  return fresh;
}
