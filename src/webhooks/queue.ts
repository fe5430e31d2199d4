import type { Kysely } from 'kysely';
import { CarapaceError, newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { deliveryRow } from './fanout.js';
import type { WebhookDeps } from './ports.js';
import type { WebhookDeliveryRow, WebhookSubscriptionRow } from './tables.js';

/** A delivery as owners and operators see it: never the body's secrets (it has none) nor the endpoint's. */
export interface DeliveryView {
  id: string;
  subscriptionId: string;
  eventId: string;
  eventType: string;
  state: WebhookDeliveryRow['state'];
  attempts: number;
  nextAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  withheldReason: string | null;
  createdAt: string;
  finishedAt: string | null;
}

/** The view of a delivery row. */
export function deliveryView(d: WebhookDeliveryRow): DeliveryView {
  return {
    id: d.id,
    subscriptionId: d.subscription_id,
    eventId: d.event_id,
    eventType: d.event_type,
    state: d.state,
    attempts: d.attempts,
    nextAttemptAt: d.state === 'pending' ? d.next_attempt_at : null,
    lastStatus: d.last_status,
    lastError: d.last_error,
    withheldReason: d.withheld_reason,
    createdAt: d.created_at,
    finishedAt: d.finished_at,
  };
}

/** Reads and operator actions on the delivery queue. */
export function createQueue(deps: Pick<WebhookDeps, 'db' | 'audit' | 'clock'>) {
  const { db } = deps;
  return {
    /** Deliveries, newest first: of one subscription, and/or in one state. */
    async list(filter: { subscriptionId?: string; state?: WebhookDeliveryRow['state']; limit: number }) {
      let q = db.selectFrom('webhook_deliveries').selectAll();
      if (filter.subscriptionId) q = q.where('subscription_id', '=', filter.subscriptionId);
      if (filter.state) q = q.where('state', '=', filter.state);
      return (await q.orderBy('leaf_index', 'desc').orderBy('created_at', 'desc').limit(filter.limit).execute()).map(
        deliveryView,
      );
    },

    /**
     * Queues a `webhook.ping` for a subscription (sent like any event, signed, retried). While one is still pending
     * it is the answer: pings on demand would otherwise fill the queue and aim our requests at any URL at will.
     */
    async ping(sub: WebhookSubscriptionRow): Promise<DeliveryView> {
      const pending = await db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('subscription_id', '=', sub.id)
        .where('event_type', '=', 'webhook.ping')
        .where('state', '=', 'pending')
        .executeTakeFirst();
      if (pending) return deliveryView(pending);
      const at = deps.clock.now().toISOString();
      const data = { subscriptionId: sub.id };
      const ev = { id: `ping:${newId()}`, type: 'webhook.ping', occurredAt: at, data, vehicleId: null, orderKey: null };
      const row = deliveryRow(sub, ev, -1, at);
      await db.insertInto('webhook_deliveries').values(row).execute();
      return deliveryView(row);
    },

    /** Puts dead-lettered deliveries back in the queue (fresh attempts, the same webhook-id); audited. */
    async replay(ids: string[], actor: { type: 'operator'; id: string }): Promise<DeliveryView[]> {
      const at = deps.clock.now().toISOString();
      return db.transaction().execute(async (trx: Kysely<Database>) => {
        const out: DeliveryView[] = [];
        for (const id of ids) {
          const d = await trx.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
          if (!d) throw new CarapaceError('ERR_NOT_FOUND', 'no such delivery');
          if (d.state !== 'dead')
            throw new CarapaceError('ERR_WEBHOOK_NOT_REPLAYABLE', 'only a dead-lettered delivery is replayed', {
              state: d.state,
            });
          const set = {
            state: 'pending' as const,
            attempts: 0,
            next_attempt_at: at,
            finished_at: null,
            last_error: null,
          };
          await trx.updateTable('webhook_deliveries').set(set).where('id', '=', id).execute();
          await deps.audit.append(trx, {
            type: 'webhooks.delivery.replayed',
            actor,
            tenantId: d.tenant_id,
            object: { type: 'webhook_delivery', id },
            action: 'webhook:replay',
            decision: 'allow',
            details: { subscriptionId: d.subscription_id, eventType: d.event_type },
          });
          out.push(deliveryView({ ...d, ...set }));
        }
        return out;
      });
    },
  };
}

/** The queue's reads and operator actions. */
export type Queue = ReturnType<typeof createQueue>;
