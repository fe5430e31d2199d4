import { sql } from 'kysely';
import { CarapaceError, isCarapaceError } from '../platform/index.js';
import { ed25519Signature, hmacSignature, signedContent, WEBHOOK_HEADERS } from '../wire/index.js';
import type { Entitlement } from './entitlement.js';
import type { WebhookKeySet } from './key-set.js';
import type { WebhookDeps } from './ports.js';
import { secretContext } from './subscriptions.js';
import type { WebhookDeliveryRow, WebhookSubscriptionRow } from './tables.js';

/** Delivery settings (`webhooks.*`, in milliseconds). */
export interface DeliverySettings {
  concurrency: number;
  batchSize: number;
  timeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxAttempts: number;
  disableAfter: number;
  leaseTtlMs: number;
}

/** Full jitter: a random delay below base x 2^(attempts-1), capped, never under half the base. */
export function retryDelayMs(
  attempts: number,
  s: Pick<DeliverySettings, 'retryBaseMs' | 'retryMaxMs'>,
  random: () => number,
): number {
  const ceiling = Math.min(s.retryMaxMs, s.retryBaseMs * 2 ** Math.min(Math.max(attempts - 1, 0), 30));
  return Math.max(s.retryBaseMs / 2, random() * ceiling);
}

/** The headers of one attempt: the current secret's signature, the previous one's during an overlap, and v1a. */
export async function signedHeaders(
  d: Pick<WebhookDeliveryRow, 'id' | 'payload'>,
  sub: WebhookSubscriptionRow,
  deps: Pick<WebhookDeps, 'secrets'> & { keys: WebhookKeySet },
  now: Date,
): Promise<Record<string, string>> {
  const timestamp = Math.floor(now.getTime() / 1000);
  const content = signedContent(d.id, timestamp, d.payload);
  const secrets = [deps.secrets.open(sub.secret_sealed, secretContext(sub.id))];
  if (sub.previous_secret_sealed && sub.previous_until && sub.previous_until > now.toISOString())
    secrets.push(deps.secrets.open(sub.previous_secret_sealed, secretContext(sub.id)));
  const { key } = await deps.keys.signer();
  const signatures = [...secrets.map((s) => hmacSignature(s, content)), ed25519Signature(key, content)];
  return {
    'content-type': 'application/json',
    [WEBHOOK_HEADERS.id]: d.id,
    [WEBHOOK_HEADERS.timestamp]: String(timestamp),
    [WEBHOOK_HEADERS.signature]: signatures.join(' '),
  };
}

/** What the worker reports (/readyz details, tests). Never holds a secret or a URL. */
export interface WorkerStatus {
  inFlight: number;
  /** The most ever in flight at once on this node: never above `concurrency`. */
  peakInFlight: number;
  delivered: number;
  failed: number;
  withheld: number;
}

/**
 * The delivery worker of one node. A round claims due deliveries (a lease row by row, compare-and-set, so on
 * either engine only one node attempts a delivery) up to the budget left, starts them, and returns at once: an
 * endpoint that hangs holds one slot until the outbound timeout, never the API, telemetry or commands.
 */
export function createDeliveryWorker(
  deps: Pick<WebhookDeps, 'db' | 'audit' | 'clock' | 'log' | 'secrets' | 'outbound' | 'random'> & {
    keys: WebhookKeySet;
    entitlement: Entitlement;
    node: string;
  },
  s: DeliverySettings,
) {
  const { db } = deps;
  const random = deps.random ?? Math.random;
  const inFlight = new Set<Promise<void>>();
  const status: WorkerStatus = { inFlight: 0, peakInFlight: 0, delivered: 0, failed: 0, withheld: 0 };

  /** Due, unleased deliveries of active endpoints; one of an ordered key waits for every earlier one. */
  async function due(limit: number): Promise<WebhookDeliveryRow[]> {
    const now = deps.clock.now().toISOString();
    return db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_subscriptions as s', 's.id', 'd.subscription_id')
      .selectAll('d')
      .where('d.state', '=', 'pending')
      .where('s.status', '=', 'active')
      .where('d.next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('d.lease_until', 'is', null), eb('d.lease_until', '<', now)]))
      .where((eb) =>
        eb.or([
          eb('d.order_key', 'is', null),
          eb.not(
            eb.exists(
              eb
                .selectFrom('webhook_deliveries as e')
                .select(sql<number>`1`.as('one'))
                .whereRef('e.subscription_id', '=', 'd.subscription_id')
                .whereRef('e.order_key', '=', 'd.order_key')
                .whereRef('e.leaf_index', '<', 'd.leaf_index')
                .where('e.state', '=', 'pending'),
            ),
          ),
        ]),
      )
      .orderBy('d.leaf_index')
      .orderBy('d.id')
      .limit(limit)
      .execute();
  }

  async function claim(d: WebhookDeliveryRow): Promise<boolean> {
    const now = deps.clock.now();
    const until = new Date(now.getTime() + s.leaseTtlMs).toISOString();
    const r = await db
      .updateTable('webhook_deliveries')
      .set({ lease_owner: deps.node, lease_until: until })
      .where('id', '=', d.id)
      .where('state', '=', 'pending')
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now.toISOString())]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  const mine = (id: string) =>
    db.updateTable('webhook_deliveries').where('id', '=', id).where('lease_owner', '=', deps.node);

  async function withhold(d: WebhookDeliveryRow, reason: string) {
    status.withheld++;
    const at = deps.clock.now().toISOString();
    await mine(d.id)
      .set({ state: 'withheld', withheld_reason: reason, finished_at: at, lease_owner: null, lease_until: null })
      .execute();
  }

  async function succeeded(d: WebhookDeliveryRow, sub: WebhookSubscriptionRow, httpStatus: number) {
    status.delivered++;
    const at = deps.clock.now().toISOString();
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('webhook_deliveries')
        .set({
          state: 'delivered',
          attempts: d.attempts + 1,
          last_status: httpStatus,
          last_error: null,
          finished_at: at,
        })
        .set({ lease_owner: null, lease_until: null })
        .where('id', '=', d.id)
        .where('lease_owner', '=', deps.node)
        .execute();
      await trx
        .updateTable('webhook_subscriptions')
        .set({ consecutive_failures: 0 })
        .where('id', '=', sub.id)
        .execute();
    });
  }

  async function failed(d: WebhookDeliveryRow, sub: WebhookSubscriptionRow, error: string, httpStatus: number | null) {
    status.failed++;
    const now = deps.clock.now();
    const attempts = d.attempts + 1;
    const dead = attempts >= s.maxAttempts;
    const next = new Date(now.getTime() + retryDelayMs(attempts, s, random)).toISOString();
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('webhook_deliveries')
        .set({
          attempts,
          last_status: httpStatus,
          last_error: error.slice(0, 200),
          lease_owner: null,
          lease_until: null,
        })
        .set(dead ? { state: 'dead', finished_at: now.toISOString() } : { next_attempt_at: next })
        .where('id', '=', d.id)
        .where('lease_owner', '=', deps.node)
        .execute();
      if (dead)
        await deps.audit.append(trx, {
          type: 'webhooks.delivery.dead_lettered',
          actor: { type: 'system', id: 'webhooks' },
          tenantId: sub.tenant_id,
          object: { type: 'webhook_delivery', id: d.id },
          action: 'webhook:deliver',
          decision: 'deny',
          reason: error.slice(0, 120),
          details: { subscriptionId: sub.id, eventType: d.event_type, attempts },
        });
      const r = await trx
        .updateTable('webhook_subscriptions')
        .set((eb) => ({ consecutive_failures: eb('consecutive_failures', '+', 1) }))
        .where('id', '=', sub.id)
        .returning('consecutive_failures')
        .executeTakeFirst();
      if (r && r.consecutive_failures >= s.disableAfter) await disable(trx, sub, r.consecutive_failures);
    });
  }

  /** Disables an endpoint that keeps failing: the notice is its status and reason, and an audit event. */
  async function disable(trx: typeof db, sub: WebhookSubscriptionRow, failures: number) {
    const reason = `disabled after ${failures} consecutive failed attempts`;
    const r = await trx
      .updateTable('webhook_subscriptions')
      .set({ status: 'disabled', disabled_reason: reason, updated_at: deps.clock.now().toISOString() })
      .where('id', '=', sub.id)
      .where('status', '=', 'active')
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return;
    await deps.audit.append(trx, {
      type: 'webhooks.endpoint.disabled',
      actor: { type: 'system', id: 'webhooks' },
      tenantId: sub.tenant_id,
      object: { type: 'webhook_subscription', id: sub.id },
      action: 'webhook:disable',
      decision: 'deny',
      reason,
      details: { failures, host: new URL(sub.url).host },
    });
    deps.log.warn({ subscriptionId: sub.id, failures }, 'webhook endpoint disabled after consecutive failures');
  }

  /** One attempt of a claimed delivery: decided again, signed, sent through the outbound layer, recorded. */
  async function attempt(d: WebhookDeliveryRow): Promise<void> {
    const sub = await db
      .selectFrom('webhook_subscriptions')
      .selectAll()
      .where('id', '=', d.subscription_id)
      .executeTakeFirst();
    if (!sub) return withhold(d, 'subscription_deleted');
    const why = await deps.entitlement.check(sub, { eventType: d.event_type, vehicleId: d.vehicle_id });
    if (why !== null) return withhold(d, why);
    const headers = await signedHeaders(d, sub, { secrets: deps.secrets, keys: deps.keys }, deps.clock.now());
    try {
      const res = await deps.outbound.send({
        purpose: 'webhook',
        url: sub.url,
        method: 'POST',
        headers,
        body: d.payload,
        timeoutMs: s.timeoutMs,
        maxResponseBytes: 16 * 1024,
        breakerKey: sub.id,
        tenantId: sub.tenant_id,
        actor: { type: 'system', id: 'webhooks' },
      });
      if (res.status >= 200 && res.status < 300) return succeeded(d, sub, res.status);
      return failed(d, sub, `HTTP ${res.status}`, res.status);
    } catch (err) {
      // An open breaker is not an attempt: the delivery waits for it without spending one of its attempts.
      if (isCarapaceError(err, 'ERR_OUTBOUND_CIRCUIT_OPEN')) {
        const next = new Date(deps.clock.now().getTime() + s.retryBaseMs).toISOString();
        await mine(d.id)
          .set({ next_attempt_at: next, lease_owner: null, lease_until: null, last_error: 'circuit_open' })
          .execute();
        return;
      }
      return failed(d, sub, isCarapaceError(err) ? err.code : 'error', null);
    }
  }

  function start(d: WebhookDeliveryRow) {
    const run: Promise<void> = attempt(d)
      .catch((err: unknown) => deps.log.error({ err, deliveryId: d.id }, 'webhook delivery attempt failed'))
      .finally(() => {
        inFlight.delete(run);
        status.inFlight = inFlight.size;
      });
    inFlight.add(run);
    status.inFlight = inFlight.size;
    status.peakInFlight = Math.max(status.peakInFlight, inFlight.size);
  }

  return {
    status: (): WorkerStatus => ({ ...status }),
    /** Claims and starts what the budget allows; resolves once started (not once delivered). Returns how many. */
    async round(): Promise<number> {
      const room = s.concurrency - inFlight.size;
      if (room <= 0) return 0;
      let started = 0;
      for (const d of await due(Math.min(s.batchSize, room))) {
        if (inFlight.size >= s.concurrency) break;
        if (!(await claim(d))) continue;
        start(d);
        started++;
      }
      return started;
    },
    /** Waits for every attempt in flight (each is bounded by the outbound timeout). */
    async drain(): Promise<void> {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

/** The delivery worker. */
export type DeliveryWorker = ReturnType<typeof createDeliveryWorker>;

/** Refuses settings where a lease could run out while an attempt is still in flight. */
export function checkDeliverySettings(s: DeliverySettings): void {
  if (s.leaseTtlMs <= s.timeoutMs)
    throw new CarapaceError('ERR_CONFIG_INVALID', 'webhooks.leaseTtl must exceed webhooks.timeout', {
      key: 'webhooks.leaseTtl',
    });
}
