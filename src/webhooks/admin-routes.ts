import { Type } from '@sinclair/typebox';
import { operatorOf } from '../admin/index.js';
import type { CatalogEntry, RouteRegistrar } from '../http/index.js';
import type { Webhooks } from './webhooks.js';
import { DeliverySchema, DeliveryState, KeySetSchema } from './views.js';

const closed = { additionalProperties: false } as const;
const entry = (e: Pick<CatalogEntry, 'purpose' | 'action' | 'safetyImpact'>): CatalogEntry => ({
  owner: 'webhooks',
  callers: ['operator'],
  classification: 'restricted',
  scopes: [],
  status: 'beta',
  ...e,
});
const auth = { kind: 'operator' } as const;
const Limit = Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' }));
const DeliveryId = Type.String({ pattern: '^msg_[A-Za-z0-9_-]{10,40}$' });

/** The admin plane's webhook routes: the queue (dead letters and their replay), worker state, key rotation. */
export function registerWebhookAdminRoutes(routes: RouteRegistrar, deps: { webhooks: Webhooks }): void {
  const { webhooks } = deps;
  routes.get(
    '/admin/v1/webhooks/deliveries',
    {
      auth,
      catalog: entry({
        purpose: 'List webhook deliveries (e.g. dead letters), newest first.',
        action: 'webhooks:list_deliveries',
        safetyImpact: 'none',
      }),
      schema: {
        querystring: Type.Object(
          {
            state: Type.Optional(DeliveryState),
            subscription: Type.Optional(Type.String({ format: 'uuid' })),
            limit: Limit,
          },
          closed,
        ),
        response: { 200: Type.Object({ deliveries: Type.Array(DeliverySchema) }, closed) },
      },
    },
    async (req) => ({
      deliveries: await webhooks.queue.list({
        state: req.query.state,
        subscriptionId: req.query.subscription,
        limit: Math.min(Math.max(Number(req.query.limit ?? 100), 1), 500),
      }),
    }),
  );

  routes.post(
    '/admin/v1/webhooks/deliveries/replay',
    {
      auth,
      catalog: entry({
        purpose: 'Put dead-lettered deliveries back in the queue (same webhook-id, fresh attempts).',
        action: 'webhooks:replay',
        safetyImpact: 'low',
      }),
      schema: {
        body: Type.Object({ ids: Type.Array(DeliveryId, { minItems: 1, maxItems: 500 }) }, closed),
        response: { 200: Type.Object({ replayed: Type.Array(DeliverySchema) }, closed) },
      },
    },
    async (req) => ({
      replayed: await webhooks.queue.replay(req.body.ids, { type: 'operator', id: operatorOf(req).name }),
    }),
  );

  routes.get(
    '/admin/v1/webhooks/status',
    {
      auth,
      catalog: entry({
        purpose: "The delivery worker's budget use and counters on this node.",
        action: 'webhooks:status',
        safetyImpact: 'none',
      }),
      schema: {
        response: {
          200: Type.Object(
            {
              inFlight: Type.Integer(),
              peakInFlight: Type.Integer(),
              delivered: Type.Integer(),
              failed: Type.Integer(),
              withheld: Type.Integer(),
              fanoutLeaseHeld: Type.Boolean(),
            },
            closed,
          ),
        },
      },
    },
    async () => webhooks.status(),
  );

  routes.post(
    '/admin/v1/webhooks/keys/rotate',
    {
      auth,
      catalog: entry({
        purpose: 'Rotate the Ed25519 webhook signing key; the old one stays published for the overlap.',
        action: 'webhooks:rotate_key',
        safetyImpact: 'low',
      }),
      schema: { response: { 200: KeySetSchema } },
    },
    async (req) => {
      await webhooks.keys.rotate({ type: 'operator', id: operatorOf(req).name });
      return { keys: await webhooks.keys.published() };
    },
  );
}
