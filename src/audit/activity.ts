import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';

/** How many events of one type, action, decision and client application the trail holds in a window. */
export interface AuditActivity {
  type: string;
  action: string;
  decision: string;
  applicationId: string | null;
  events: number;
}

/** The trail's events in a window, counted per type, action, decision and client (what the inventory reads). */
export async function auditActivity(
  db: Kysely<Database>,
  window: { from: string; to: string },
): Promise<AuditActivity[]> {
  const rows = await db
    .selectFrom('audit_events')
    .select(['type', 'action', 'decision', 'application_id'])
    .select((eb) => eb.fn.countAll<number>().as('events'))
    .where('occurred_at', '>=', window.from)
    .where('occurred_at', '<=', window.to)
    .groupBy(['type', 'action', 'decision', 'application_id'])
    .execute();
  return rows.map((r) => ({
    type: r.type,
    action: r.action,
    decision: r.decision,
    applicationId: r.application_id,
    events: Number(r.events),
  }));
}
