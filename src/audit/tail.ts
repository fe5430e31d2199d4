import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import type { StoredAuditEvent } from './event.js';
import { fromRow } from './store.js';

/** One page of the trail in tree order, and the cursor to pass next. */
export interface AuditTailPage {
  events: { leafIndex: number; event: StoredAuditEvent }[];
  /** The last leaf index returned (or the one passed in): pass it as `afterLeaf` for the next page. */
  cursor: number;
}

/**
 * Reads sealed events in leaf order after `afterLeaf` (-1: from the start). Leaves are only ever appended at the
 * end, so this cursor never skips an event, unlike a `seq` cursor on PostgreSQL, where a lower seq can commit after
 * a higher one was read. The price: an event appears once it is sealed (`audit.checkpointInterval`).
 */
export async function tailAuditEvents(db: Kysely<Database>, afterLeaf: number, limit: number): Promise<AuditTailPage> {
  const rows = await db
    .selectFrom('audit_leaves')
    .innerJoin('audit_events', 'audit_events.seq', 'audit_leaves.event_seq')
    .selectAll('audit_events')
    .select('audit_leaves.leaf_index')
    .where('audit_leaves.leaf_index', '>', afterLeaf)
    .orderBy('audit_leaves.leaf_index')
    .limit(Math.min(Math.max(limit, 1), 1000))
    .execute();
  const events = rows.map(({ leaf_index, ...row }) => ({ leafIndex: leaf_index, event: fromRow(row) }));
  return { events, cursor: events.at(-1)?.leafIndex ?? afterLeaf };
}
