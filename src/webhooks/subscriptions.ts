import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { RequestContext } from '../audit/index.js';
import { CarapaceError, isCarapaceError, newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { SECRET_PREFIX } from '../wire/index.js';
import type { WebhookEventType } from './event-types.js';
import type { WebhookDeps } from './ports.js';
import type { WebhookSubscriptionRow } from './tables.js';

/** Who registers or changes a subscription: a tenant's person, or a partner's client acting for itself. */
export interface SubscriptionOwner {
  kind: 'user' | 'application';
  id: string;
  /** The OAuth client the request came through (audited). */
  clientId: string;
}

/** A subscription as its owner sees it: never its secret (shown once, at creation and rotation). */
export interface SubscriptionView {
  id: string;
  tenantId: string;
  ownerKind: 'user' | 'application';
  url: string;
  description: string;
  eventTypes: string[];
  status: 'active' | 'disabled';
  disabledReason: string | null;
  consecutiveFailures: number;
  /** While a rotation overlaps: until when the previous secret still signs. */
  previousSecretUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

/** What a create or update may set. */
export interface SubscriptionInput {
  url?: string;
  description?: string;
  eventTypes?: WebhookEventType[];
  /** Only `active`: re-enables a disabled endpoint (its failure count starts again). */
  status?: 'active';
}

/** A fresh endpoint secret: `whsec_` + base64 of 32 random bytes. */
export function newSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/** The sealing context of a subscription's secrets: a sealed value cannot be moved to another row. */
export const secretContext = (id: string) => `webhook-subscription:${id}`;

/** The owner's view of a row. */
export function subscriptionView(r: WebhookSubscriptionRow): SubscriptionView {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    ownerKind: r.owner_kind,
    url: r.url,
    description: r.description,
    eventTypes: JSON.parse(r.event_types) as string[],
    status: r.status,
    disabledReason: r.disabled_reason,
    consecutiveFailures: r.consecutive_failures,
    previousSecretUntil: r.previous_until,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Reads one subscription (the route framework's loader: it decides with the row, or with nothing). */
export function findSubscription(db: Kysely<Database>, id: string): Promise<WebhookSubscriptionRow | undefined> {
  return db.selectFrom('webhook_subscriptions').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The subscriptions service: the only code that writes `webhook_subscriptions`. */
export function createSubscriptions(
  deps: Pick<WebhookDeps, 'db' | 'audit' | 'clock' | 'secrets' | 'outbound'>,
  settings: { secretOverlapSeconds: number; maxPerTenant: number },
) {
  const { db } = deps;

  /** A URL the outbound layer accepts now, or ERR_WEBHOOK_URL_REFUSED (400) with its reason. */
  async function checkedUrl(url: string, tenantId: string, owner: SubscriptionOwner): Promise<string> {
    try {
      return (await deps.outbound.checkUrl(url, 'webhook', { tenantId, actor: { type: owner.kind, id: owner.id } }))
        .href;
    } catch (err) {
      const reason = isCarapaceError(err) ? String(err.context.reason ?? err.code) : 'invalid';
      throw new CarapaceError('ERR_WEBHOOK_URL_REFUSED', 'the outbound layer refuses this endpoint URL', { reason });
    }
  }

  const audited = (
    trx: Kysely<Database>,
    type: Parameters<WebhookDeps['audit']['append']>[1]['type'],
    owner: SubscriptionOwner,
    row: Pick<WebhookSubscriptionRow, 'id' | 'tenant_id'>,
    context: RequestContext | null,
    details: Record<string, string | number | boolean | null | string[]> = {},
  ) =>
    deps.audit.append(trx, {
      type,
      actor: { type: owner.kind, id: owner.id },
      applicationId: owner.clientId,
      tenantId: row.tenant_id,
      object: { type: 'webhook_subscription', id: row.id },
      action: type.replace('webhooks.subscription.', 'webhook:'),
      decision: 'allow',
      context,
      details,
    });

  return {
    /** Registers an endpoint; the secret is returned here once and stored only sealed. */
    async create(
      owner: SubscriptionOwner,
      tenantId: string,
      input: Required<Pick<SubscriptionInput, 'url' | 'eventTypes'>> & { description?: string },
      context: RequestContext | null,
    ): Promise<{ subscription: SubscriptionView; secret: string }> {
      const url = await checkedUrl(input.url, tenantId, owner);
      const id = newId();
      const secret = newSecret();
      const at = deps.clock.now().toISOString();
      const row: WebhookSubscriptionRow = {
        id,
        tenant_id: tenantId,
        owner_kind: owner.kind,
        owner_id: owner.id,
        url,
        description: input.description ?? '',
        event_types: JSON.stringify([...new Set(input.eventTypes)].sort()),
        status: 'active',
        disabled_reason: null,
        secret_sealed: deps.secrets.seal(secret, secretContext(id)),
        previous_secret_sealed: null,
        previous_until: null,
        consecutive_failures: 0,
        created_at: at,
        updated_at: at,
      };
      await db.transaction().execute(async (trx) => {
        // Counted in the transaction of the insert; concurrent creates may pass it together by a few at most.
        const held = await trx
          .selectFrom('webhook_subscriptions')
          .select((eb) => eb.fn.countAll<string | number>().as('n'))
          .where('tenant_id', '=', tenantId)
          .executeTakeFirstOrThrow();
        if (Number(held.n) >= settings.maxPerTenant)
          throw new CarapaceError(
            'ERR_WEBHOOK_LIMIT_REACHED',
            `the tenant already holds the ${settings.maxPerTenant} subscriptions allowed`,
            { reason: 'tenant_limit' },
          );
        await trx.insertInto('webhook_subscriptions').values(row).execute();
        await audited(trx, 'webhooks.subscription.created', owner, row, context, {
          host: new URL(url).host,
          eventTypes: JSON.parse(row.event_types) as string[],
        });
      });
      return { subscription: subscriptionView(row), secret };
    },

    /** The subscriptions an owner sees in a tenant: a partner its own, the tenant's people the tenant's. */
    async list(owner: SubscriptionOwner, tenantId: string): Promise<SubscriptionView[]> {
      let q = db
        .selectFrom('webhook_subscriptions')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('owner_kind', '=', owner.kind);
      if (owner.kind === 'application') q = q.where('owner_id', '=', owner.id);
      return (await q.orderBy('created_at').orderBy('id').limit(500).execute()).map(subscriptionView);
    },

    /** Changes the URL (checked again), description, event types, or re-enables a disabled endpoint. */
    async update(
      owner: SubscriptionOwner,
      row: WebhookSubscriptionRow,
      input: SubscriptionInput,
      context: RequestContext | null,
    ): Promise<SubscriptionView> {
      const set: Partial<WebhookSubscriptionRow> = { updated_at: deps.clock.now().toISOString() };
      if (input.url !== undefined) set.url = await checkedUrl(input.url, row.tenant_id, owner);
      if (input.description !== undefined) set.description = input.description;
      if (input.eventTypes !== undefined) set.event_types = JSON.stringify([...new Set(input.eventTypes)].sort());
      if (input.status === 'active')
        Object.assign(set, { status: 'active', disabled_reason: null, consecutive_failures: 0 });
      await db.transaction().execute(async (trx) => {
        await trx.updateTable('webhook_subscriptions').set(set).where('id', '=', row.id).execute();
        await audited(trx, 'webhooks.subscription.updated', owner, row, context, {
          fields: Object.keys(input).sort(),
        });
      });
      return subscriptionView({ ...row, ...set });
    },

    /** Deletes a subscription; its queued deliveries are withheld (in the same transaction). */
    async remove(owner: SubscriptionOwner, row: WebhookSubscriptionRow, context: RequestContext | null): Promise<void> {
      const at = deps.clock.now().toISOString();
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('webhook_subscriptions').where('id', '=', row.id).execute();
        const r = await trx
          .updateTable('webhook_deliveries')
          .set({ state: 'withheld', withheld_reason: 'subscription_deleted', finished_at: at })
          .where('subscription_id', '=', row.id)
          .where('state', '=', 'pending')
          .executeTakeFirst();
        await audited(trx, 'webhooks.subscription.deleted', owner, row, context, {
          withheld: Number(r.numUpdatedRows),
        });
      });
    },

    /** A new secret, returned once; the old one keeps signing (beside it) for the overlap. */
    async rotate(
      owner: SubscriptionOwner,
      row: WebhookSubscriptionRow,
      context: RequestContext | null,
    ): Promise<{ subscription: SubscriptionView; secret: string }> {
      const now = deps.clock.now();
      const secret = newSecret();
      const until = new Date(now.getTime() + settings.secretOverlapSeconds * 1000).toISOString();
      const set = {
        secret_sealed: deps.secrets.seal(secret, secretContext(row.id)),
        previous_secret_sealed: row.secret_sealed,
        previous_until: until,
        updated_at: now.toISOString(),
      };
      await db.transaction().execute(async (trx) => {
        await trx.updateTable('webhook_subscriptions').set(set).where('id', '=', row.id).execute();
        await audited(trx, 'webhooks.subscription.secret_rotated', owner, row, context, { previousUntil: until });
      });
      return { subscription: subscriptionView({ ...row, ...set }), secret };
    },
  };
}

/** The subscriptions service. */
export type Subscriptions = ReturnType<typeof createSubscriptions>;
