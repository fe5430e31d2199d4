import type { Kysely } from 'kysely';
import { type Clock, newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { QueuedNotification } from './actions.js';
import type { IncidentAuditLog } from './audit-events.js';
import { recordStep, type IncidentActor } from './timeline.js';

/** A notification as the API lists it. */
export interface NotificationView {
  id: string;
  incidentId: string;
  recipientKind: string;
  recipientId: string;
  template: string;
  details: string;
  state: 'pending';
  createdAt: string;
}

/**
 * Queues notifications in the outbox (`incident_notifications`), each with its timeline row and audit event.
 * Nothing delivers them yet: delivery comes with webhooks (issue 14); until then they stay `pending`.
 */
export async function queueNotifications(
  deps: { db: Kysely<Database>; audit: IncidentAuditLog; clock: Clock },
  incident: { id: string; tenantId: string | null },
  notes: QueuedNotification[],
  actor: IncidentActor,
): Promise<string[]> {
  if (notes.length === 0) return [];
  return deps.db.transaction().execute(async (trx) => {
    const ids: string[] = [];
    for (const n of notes) {
      const id = newId();
      await trx
        .insertInto('incident_notifications')
        .values({
          id,
          incident_id: incident.id,
          recipient_kind: n.recipientKind,
          recipient_id: n.recipientId,
          template: n.template,
          details: JSON.stringify(n.details),
          state: 'pending',
          created_at: deps.clock.now().toISOString(),
        })
        .execute();
      await recordStep(
        trx,
        { audit: deps.audit, at: deps.clock.now() },
        {
          incidentId: incident.id,
          tenantId: incident.tenantId,
          type: 'incidents.notification.queued',
          kind: 'notification',
          actor,
          summary: `notification ${n.template} to ${n.recipientKind} ${n.recipientId} queued (not delivered)`,
          details: {
            notificationId: id,
            recipientKind: n.recipientKind,
            recipientId: n.recipientId,
            template: n.template,
          },
        },
      );
      ids.push(id);
    }
    return ids;
  });
}

/** The outbox, newest first; by incident, or all pending. */
export async function listNotifications(
  db: Kysely<Database>,
  filter: { incidentId?: string; limit: number },
): Promise<NotificationView[]> {
  let q = db.selectFrom('incident_notifications').selectAll();
  if (filter.incidentId) q = q.where('incident_id', '=', filter.incidentId);
  const rows = await q.orderBy('created_at', 'desc').orderBy('id').limit(filter.limit).execute();
  return rows.map((r) => ({
    id: r.id,
    incidentId: r.incident_id,
    recipientKind: r.recipient_kind,
    recipientId: r.recipient_id,
    template: r.template,
    details: r.details,
    state: r.state,
    createdAt: r.created_at,
  }));
}
