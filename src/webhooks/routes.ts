import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { requestContext } from '../http/index.js';
import { CarapaceError } from '../platform/index.js';
import {
  type ApiRoutes,
  apiRoute,
  authorizedOf,
  closed,
  decideEach,
  type DecisionPoint,
  type EntityLoader,
  Id,
  type LoadedResource,
  load,
  NoQuery,
  type Principal,
  param,
  ref,
} from '../policy/index.js';
import type { Database } from '../storage/index.js';
import { isSecurityType, type WebhookEventType } from './event-types.js';
import type { Webhooks } from './webhooks.js';
import { findSubscription, type SubscriptionOwner, subscriptionView } from './subscriptions.js';
import type { WebhookSubscriptionRow } from './tables.js';
import {
  DeliverySchema,
  DeliveryState,
  EventType,
  KeySetSchema,
  SubscriptionSchema,
  WithSecretSchema,
} from './views.js';

const TenantParams = Type.Object({ tenantId: Id }, closed);
const ItemParams = Type.Object({ tenantId: Id, subscriptionId: Id }, closed);
const Url = Type.String({ minLength: 8, maxLength: 2048 });
const EventTypes = Type.Array(EventType, { minItems: 1, maxItems: 16 });
const Description = Type.String({ maxLength: 200 });
const CreateBody = Type.Object({ url: Url, eventTypes: EventTypes, description: Type.Optional(Description) }, closed);
const UpdateBody = Type.Object(
  {
    url: Type.Optional(Url),
    eventTypes: Type.Optional(EventTypes),
    description: Type.Optional(Description),
    status: Type.Optional(Type.Literal('active')),
  },
  { ...closed, minProperties: 1 },
);
/** Who may call these: a tenant's fleet admins and security admins, and partners (Cedar decides which tenant). */
const SCOPES = ['fleet:admin', 'security:admin', 'vehicle:read_status'];
const CALLERS = ['user', 'application'] as const;

/** The subscription named by the path, inside the authorized tenant, as the Cedar resource `WebhookSubscription`. */
function subscriptionIn(db: Kysely<Database>) {
  return async (req: FastifyRequest, outer: LoadedResource) => {
    const id = param(req, 'subscriptionId');
    const row = await findSubscription(db, id);
    const mine = row && row.tenant_id === outer.tenantId ? row : undefined;
    const uid = { type: 'WebhookSubscription', id };
    const attrs = {
      tenant: ref('Tenant', mine?.tenant_id ?? ''),
      ownerKind: mine?.owner_kind ?? '',
      ...(mine?.owner_kind === 'application' ? { application: ref('Application', mine.owner_id) } : {}),
    };
    const resource: LoadedResource<WebhookSubscriptionRow> = {
      uid,
      entities: [{ uid, attrs }, ...outer.entities],
      object: mine ?? null,
      tenantId: mine?.tenant_id ?? null,
    };
    return { resource: resource as LoadedResource };
  };
}

const ownerOf = (p: Principal): SubscriptionOwner =>
  p.kind === 'user'
    ? { kind: 'user', id: p.userId, clientId: p.clientId }
    : { kind: 'application', id: p.clientId, clientId: p.clientId };

/** Security event types need webhook:receive_security on the tenant (people only); else 403 naming the types. */
async function checkEventTypes(
  req: FastifyRequest,
  deps: { decisions: DecisionPoint; load: EntityLoader },
  types: WebhookEventType[] | undefined,
  tenant: LoadedResource,
) {
  const security = (types ?? []).filter(isSecurityType);
  if (security.length === 0) return;
  const [allowed] = await decideEach(req, deps, 'webhook:receive_security', [tenant]);
  if (!allowed)
    throw new CarapaceError('ERR_WEBHOOK_EVENTS_FORBIDDEN', 'these event types are for the tenant security team', {
      eventTypes: security,
    });
}

/** The public API's webhook routes: subscriptions of a tenant, and the published verification keys. */
export function registerWebhookRoutes(
  routes: ApiRoutes,
  deps: { db: Kysely<Database>; webhooks: Webhooks; decisions: DecisionPoint; load: EntityLoader },
): void {
  const { webhooks } = deps;
  const tenantRoute = (purpose: string, safetyImpact: 'none' | 'low' = 'none') =>
    apiRoute({
      owner: 'webhooks',
      purpose,
      action: 'webhook:manage',
      scopes: SCOPES,
      anyScope: true,
      callers: CALLERS,
      safetyImpact,
      authorize: { resource: load.tenant() },
    });
  const itemRoute = (purpose: string) =>
    apiRoute({
      owner: 'webhooks',
      purpose,
      action: 'webhook:manage',
      scopes: SCOPES,
      anyScope: true,
      callers: CALLERS,
      authorize: {
        resource: load.tenant(),
        within: { action: 'webhook:manage_subscription', resource: subscriptionIn(deps.db) },
      },
    });
  const item = (req: FastifyRequest) => authorizedOf<WebhookSubscriptionRow>(req);

  routes.get(
    '/v1/webhooks/keys',
    {
      auth: { kind: 'anonymous' },
      catalog: {
        owner: 'webhooks',
        purpose: 'The Ed25519 keys that sign webhook deliveries (v1a), active and recently retired.',
        callers: ['anonymous'],
        action: 'webhook:read_keys',
        classification: 'public',
        scopes: [],
        safetyImpact: 'none',
        status: 'beta',
      },
      schema: { response: { 200: KeySetSchema } },
    },
    async (_req, reply) =>
      reply.header('cache-control', 'public, max-age=300').send({ keys: await webhooks.keys.published() }),
  );

  routes.get(
    '/v1/tenants/:tenantId/webhooks',
    {
      ...tenantRoute('List the webhook subscriptions the caller manages in a tenant.'),
      schema: {
        params: TenantParams,
        querystring: NoQuery,
        response: { 200: Type.Object({ subscriptions: Type.Array(SubscriptionSchema) }, closed) },
      },
    },
    async (req) => {
      const { principal, resource } = authorizedOf(req);
      return { subscriptions: await webhooks.subscriptions.list(ownerOf(principal), resource.tenantId!) };
    },
  );

  routes.post(
    '/v1/tenants/:tenantId/webhooks',
    {
      ...tenantRoute('Register a webhook endpoint and the event types it wants; its secret is shown once.', 'low'),
      schema: { params: TenantParams, querystring: NoQuery, body: CreateBody, response: { 201: WithSecretSchema } },
    },
    async (req, reply) => {
      const { principal, resource } = authorizedOf(req);
      await checkEventTypes(req, deps, req.body.eventTypes, resource);
      const created = await webhooks.subscriptions.create(
        ownerOf(principal),
        resource.tenantId!,
        req.body,
        requestContext(req),
      );
      return reply.code(201).send(created);
    },
  );

  routes.get(
    '/v1/tenants/:tenantId/webhooks/:subscriptionId',
    {
      ...itemRoute('Read one webhook subscription (never its secret).'),
      schema: { params: ItemParams, querystring: NoQuery, response: { 200: SubscriptionSchema } },
    },
    async (req) => subscriptionView(item(req).object),
  );

  routes.put(
    '/v1/tenants/:tenantId/webhooks/:subscriptionId',
    {
      ...itemRoute('Change a subscription: URL (checked again), event types, description, or re-enable it.'),
      schema: { params: ItemParams, querystring: NoQuery, body: UpdateBody, response: { 200: SubscriptionSchema } },
    },
    async (req) => {
      const { object, principal } = item(req);
      await checkEventTypes(req, deps, req.body.eventTypes, await deps.load.tenant(object.tenant_id));
      return webhooks.subscriptions.update(ownerOf(principal), object, req.body, requestContext(req));
    },
  );

  routes.delete(
    '/v1/tenants/:tenantId/webhooks/:subscriptionId',
    {
      ...itemRoute('Delete a subscription; its queued deliveries are withheld.'),
      schema: { params: ItemParams, querystring: NoQuery, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const { object, principal } = item(req);
      await webhooks.subscriptions.remove(ownerOf(principal), object, requestContext(req));
      return reply.code(204).send(null);
    },
  );

  routes.post(
    '/v1/tenants/:tenantId/webhooks/:subscriptionId/rotate-secret',
    {
      ...itemRoute('Rotate the endpoint secret; both secrets sign during the overlap. The new one is shown once.'),
      schema: { params: ItemParams, querystring: NoQuery, response: { 200: WithSecretSchema } },
    },
    async (req) => {
      const { object, principal } = item(req);
      return webhooks.subscriptions.rotate(ownerOf(principal), object, requestContext(req));
    },
  );

  routes.post(
    '/v1/tenants/:tenantId/webhooks/:subscriptionId/ping',
    {
      ...itemRoute('Queue a signed webhook.ping to the endpoint.'),
      schema: { params: ItemParams, querystring: NoQuery, response: { 202: DeliverySchema } },
    },
    async (req, reply) => reply.code(202).send(await webhooks.queue.ping(item(req).object)),
  );

  routes.get(
    '/v1/tenants/:tenantId/webhooks/:subscriptionId/deliveries',
    {
      ...itemRoute("A subscription's deliveries, newest first, with their state and why any was withheld."),
      schema: {
        params: ItemParams,
        querystring: Type.Object({ state: Type.Optional(DeliveryState) }, closed),
        response: { 200: Type.Object({ deliveries: Type.Array(DeliverySchema) }, closed) },
      },
    },
    async (req) => ({
      deliveries: await webhooks.queue.list({
        subscriptionId: item(req).object.id,
        state: req.query.state,
        limit: 200,
      }),
    }),
  );
}
