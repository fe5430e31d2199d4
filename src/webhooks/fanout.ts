import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import type { Entitlement } from './entitlement.js';
import { isSecurityType, WEBHOOK_EVENT_TYPES, type WebhookEvent, webhookEventOf } from './event-types.js';
import { createLease } from './lease.js';
import type { WebhookDeps } from './ports.js';
import type { WebhookDeliveryRow, WebhookSubscriptionRow } from './tables.js';

const CURSOR = 'main';

/** A delivery id: the `webhook-id` header, the same on every retry of one event to one endpoint. */
export const newDeliveryId = () => `msg_${randomBytes(16).toString('base64url')}`;

/** Thrown inside the fan-out transaction when another node moved the cursor: the round rolls back. */
class CursorMovedError extends Error {}

/** The signed body: it names the receiver's tenant, so the event cannot be replayed to another tenant. */
export function payloadOf(
  id: string,
  sub: Pick<WebhookSubscriptionRow, 'tenant_id'>,
  ev: {
    id: string;
    type: string;
    occurredAt: string;
    data: Record<string, unknown>;
  },
): string {
  return JSON.stringify({
    id,
    eventId: ev.id,
    type: ev.type,
    timestamp: ev.occurredAt,
    tenant: sub.tenant_id,
    data: ev.data,
  });
}

/** A new pending delivery row. */
export function deliveryRow(
  sub: WebhookSubscriptionRow,
  ev:
    | Pick<WebhookEvent, 'id' | 'type' | 'occurredAt' | 'data' | 'vehicleId' | 'orderKey'>
    | { id: string; type: string; occurredAt: string; data: Record<string, unknown>; vehicleId: null; orderKey: null },
  leaf: number,
  at: string,
): WebhookDeliveryRow {
  const id = newDeliveryId();
  return {
    id,
    subscription_id: sub.id,
    tenant_id: sub.tenant_id,
    event_id: ev.id,
    leaf_index: leaf,
    event_type: ev.type,
    vehicle_id: ev.vehicleId,
    order_key: ev.orderKey,
    payload: payloadOf(id, sub, ev),
    state: 'pending',
    attempts: 0,
    next_attempt_at: at,
    lease_owner: null,
    lease_until: null,
    last_status: null,
    last_error: null,
    withheld_reason: null,
    created_at: at,
    finished_at: null,
  };
}

/**
 * The facts about an event that never change: the type asked for, the event after the subscription began, a
 * partner's consent events are its own, security events of the subscription's tenant (or, for the operator's
 * tenant, of none). Whether the owner may see it is decided next, by `Entitlement`, now and before each attempt.
 */
function wants(sub: WebhookSubscriptionRow, ev: WebhookEvent, operatorTenant: string | null): boolean {
  if (!(JSON.parse(sub.event_types) as string[]).includes(ev.type)) return false;
  if (ev.occurredAt < sub.created_at) return false;
  const audience = WEBHOOK_EVENT_TYPES[ev.type].audience;
  if (audience === 'consent' && sub.owner_kind === 'application') return ev.applicationId === sub.owner_id;
  if (isSecurityType(ev.type))
    return ev.tenantId === sub.tenant_id || (ev.tenantId === null && sub.tenant_id === operatorTenant);
  return true;
}

/**
 * Turns the sealed audit trail into deliveries. The events subscribers want are all written in the transaction of
 * the change, and the trail is read by leaf index (gap-free); the deliveries of a page and the cursor move commit
 * together, so an event becomes each of its deliveries exactly once, whichever node does it and whenever it dies.
 */
export function createFanout(
  deps: Pick<WebhookDeps, 'db' | 'tail' | 'consent' | 'cluster' | 'clock' | 'load'> & { entitlement: Entitlement },
  settings: { batchSize: number; leaseTtlSeconds: number },
) {
  const { db } = deps;
  const lease = createLease(deps.cluster, 'webhooks:fanout', settings.leaseTtlSeconds);

  async function cursor(): Promise<number> {
    const row = await db
      .selectFrom('webhook_cursor')
      .select('leaf_index')
      .where('name', '=', CURSOR)
      .executeTakeFirst();
    if (row) return Number(row.leaf_index);
    const at = deps.clock.now().toISOString();
    await db
      .insertInto('webhook_cursor')
      .values({ name: CURSOR, leaf_index: -1, updated_at: at, node: lease.token })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    return -1;
  }

  async function commit(trx: Kysely<Database>, from: number, to: number, rows: WebhookDeliveryRow[]) {
    const moved = await trx
      .updateTable('webhook_cursor')
      .set({ leaf_index: to, updated_at: deps.clock.now().toISOString(), node: lease.token })
      .where('name', '=', CURSOR)
      .where('leaf_index', '=', from)
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) !== 1) throw new CursorMovedError();
    for (let i = 0; i < rows.length; i += 100)
      await trx
        .insertInto('webhook_deliveries')
        .values(rows.slice(i, i + 100))
        .onConflict((oc) => oc.columns(['subscription_id', 'event_id']).doNothing())
        .execute();
  }

  return {
    lease,
    /** One page of the trail into the queue; the number of deliveries queued (0 without the lease or events). */
    async round(): Promise<number> {
      if (!(await lease.hold())) return 0;
      const from = await cursor();
      const page = await deps.tail(from, settings.batchSize);
      if (page.events.length === 0) return 0;
      const subs = await db.selectFrom('webhook_subscriptions').selectAll().where('status', '=', 'active').execute();
      const operatorTenant = subs.length ? ((await deps.load.platform()).object?.operatorTenantId ?? null) : null;
      const at = deps.clock.now().toISOString();
      const rows: WebhookDeliveryRow[] = [];
      for (const { leafIndex, event } of subs.length ? page.events : []) {
        const ev = await webhookEventOf(event, deps.consent);
        if (!ev) continue;
        for (const sub of subs) {
          if (!wants(sub, ev, operatorTenant)) continue;
          if ((await deps.entitlement.check(sub, { eventType: ev.type, vehicleId: ev.vehicleId })) !== null) continue;
          rows.push(deliveryRow(sub, ev, leafIndex, at));
        }
      }
      try {
        await db.transaction().execute((trx) => commit(trx, from, page.cursor, rows));
      } catch (err) {
        if (err instanceof CursorMovedError) return 0;
        throw err;
      }
      return rows.length;
    },
  };
}

/** The fan-out. */
export type Fanout = ReturnType<typeof createFanout>;
