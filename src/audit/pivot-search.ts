import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import type { StoredAuditEvent } from './event.js';
import { DETAIL_PIVOTS, type DetailPivot, pivotsOf } from './pivots.js';
import { fromRow } from './store.js';

/** Pivots that are columns of the event (each has an index of its own, migration 0014). */
export const COLUMN_PIVOTS = ['request', 'trace', 'user', 'client', 'source'] as const;
/** Every pivot the audit trail can be searched by. */
export const AUDIT_PIVOTS = [...COLUMN_PIVOTS, ...DETAIL_PIVOTS] as const;
/** A pivot kind: a column of the event, or a kind of the `audit_pivots` side table. */
export type AuditPivot = (typeof AUDIT_PIVOTS)[number];

/** One search: the pivot, a time window (ISO 8601, `from` inclusive, `to` exclusive) and a row bound. */
export interface PivotQuery {
  kind: AuditPivot;
  value: string;
  from: string;
  to: string;
  /** At most this many events, oldest first; the answer says when there were more. */
  limit: number;
}

/** Searches the audit trail by pivot. */
export interface AuditPivotSearch {
  /**
   * Events naming the pivot in the window, oldest first, and whether more matched than `limit`. `mismatched`
   * counts side-table rows whose event does not name the pivot in the window (a forged or stale index row): they
   * are left out, since only `audit_events` is covered by the Merkle proofs.
   */
  find(query: PivotQuery): Promise<{ events: StoredAuditEvent[]; truncated: boolean; mismatched: number }>;
}

const isDetailPivot = (k: AuditPivot): k is DetailPivot => (DETAIL_PIVOTS as readonly string[]).includes(k);

/** Creates the search over the audit tables; every query is one index range bounded by `limit + 1`. */
export function createAuditPivotSearch(deps: { db: Kysely<Database> }): AuditPivotSearch {
  const { db } = deps;

  async function byColumn(q: PivotQuery) {
    let s = db
      .selectFrom('audit_events')
      .selectAll()
      .where('occurred_at', '>=', q.from)
      .where('occurred_at', '<', q.to);
    if (q.kind === 'request') s = s.where('request_id', '=', q.value);
    else if (q.kind === 'trace') s = s.where('trace_id', '=', q.value);
    else if (q.kind === 'user') s = s.where('actor_type', '=', 'user').where('actor_id', '=', q.value);
    else if (q.kind === 'client') s = s.where('application_id', '=', q.value);
    else s = s.where('source_ip', '=', q.value);
    return s
      .orderBy('occurred_at')
      .orderBy('seq')
      .limit(q.limit + 1)
      .execute();
  }

  async function bySideTable(q: PivotQuery & { kind: DetailPivot }) {
    return (
      db
        .selectFrom('audit_pivots')
        .innerJoin('audit_events', 'audit_events.seq', 'audit_pivots.event_seq')
        .selectAll('audit_events')
        .where('audit_pivots.kind', '=', q.kind)
        .where('audit_pivots.value', '=', q.value)
        .where('audit_pivots.occurred_at', '>=', q.from)
        .where('audit_pivots.occurred_at', '<', q.to)
        // The window is the event's own time, not the index row's: a row dated into the window moves nothing.
        .where('audit_events.occurred_at', '>=', q.from)
        .where('audit_events.occurred_at', '<', q.to)
        .orderBy('audit_pivots.occurred_at')
        .orderBy('audit_pivots.event_seq')
        .limit(q.limit + 1)
        .execute()
    );
  }

  return {
    async find(q) {
      if (!isDetailPivot(q.kind)) {
        const rows = await byColumn(q);
        return { events: rows.slice(0, q.limit).map(fromRow), truncated: rows.length > q.limit, mismatched: 0 };
      }
      const kind = q.kind;
      const rows = await bySideTable({ ...q, kind });
      // The side table is outside the Merkle tree: an event is kept only if it names the pivot itself, once.
      const seen = new Set<number>();
      const events = rows
        .slice(0, q.limit)
        .map(fromRow)
        .filter((e) => !seen.has(e.seq) && seen.add(e.seq) && names(e, kind, q.value));
      const mismatched = Math.min(rows.length, q.limit) - events.length;
      return { events, truncated: rows.length > q.limit, mismatched };
    },
  };
}

function names(e: StoredAuditEvent, kind: DetailPivot, value: string): boolean {
  return pivotsOf(e).some((p) => p.kind === kind && p.value === value);
}
