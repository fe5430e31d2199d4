import { Type } from '@sinclair/typebox';
import { EVENT_TYPE_NAMES } from './event-types.js';

const closed = { additionalProperties: false } as const;
const Nullable = (t: ReturnType<typeof Type.String>) => Type.Union([t, Type.Null()]);

function DeliveryStateSchema() {
  return Type.Union([
    Type.Literal('pending'),
    Type.Literal('delivered'),
    Type.Literal('dead'),
    Type.Literal('withheld'),
  ]);
}

/** An event type a subscription may ask for. */
export const EventType = Type.Union(EVENT_TYPE_NAMES.map((t) => Type.Literal(t)));

/** A subscription as its owner reads it (closed: never the secret, never the owner's id). */
export const SubscriptionSchema = Type.Object(
  {
    id: Type.String(),
    tenantId: Type.String(),
    ownerKind: Type.Union([Type.Literal('user'), Type.Literal('application')]),
    url: Type.String(),
    description: Type.String(),
    eventTypes: Type.Array(Type.String()),
    status: Type.Union([Type.Literal('active'), Type.Literal('disabled')]),
    disabledReason: Nullable(Type.String()),
    consecutiveFailures: Type.Integer(),
    previousSecretUntil: Nullable(Type.String()),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  closed,
);

/** The answer of a create or a rotation: the subscription and its new secret, shown this once. */
export const WithSecretSchema = Type.Object({ subscription: SubscriptionSchema, secret: Type.String() }, closed);

/** A delivery as its subscription's owner or an operator reads it. */
export const DeliverySchema = Type.Object(
  {
    id: Type.String(),
    subscriptionId: Type.String(),
    eventId: Type.String(),
    eventType: Type.String(),
    state: DeliveryStateSchema(),
    attempts: Type.Integer(),
    nextAttemptAt: Nullable(Type.String()),
    lastStatus: Type.Union([Type.Integer(), Type.Null()]),
    lastError: Nullable(Type.String()),
    withheldReason: Nullable(Type.String()),
    createdAt: Type.String(),
    finishedAt: Nullable(Type.String()),
  },
  closed,
);

/** The published verification keys. */
export const KeySetSchema = Type.Object(
  {
    keys: Type.Array(
      Type.Object(
        {
          kid: Type.String(),
          alg: Type.Literal('Ed25519'),
          publicKey: Type.String(),
          status: Type.Union([Type.Literal('active'), Type.Literal('retired')]),
          createdAt: Type.String(),
          retiredAt: Nullable(Type.String()),
        },
        closed,
      ),
    ),
  },
  closed,
);

/** A delivery state filter. */
export const DeliveryState = DeliveryStateSchema();
