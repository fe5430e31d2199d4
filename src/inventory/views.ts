import { type TSchema, Type } from '@sinclair/typebox';

const closed = { additionalProperties: false } as const;
const S = Type.String();
const Strings = Type.Array(S);
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** One route of the inventory, as the admin API answers it. */
export const InventoryRowView = Type.Object(
  {
    listener: S,
    method: S,
    path: S,
    version: S,
    status: S,
    owner: S,
    businessOwner: S,
    purpose: S,
    dataExposed: Strings,
    commandsExposed: Strings,
    callers: Strings,
    authentication: Type.Object({ kind: S, audience: Nullable(S), scopes: Strings }, closed),
    authorization: Type.Object({ action: S, visibleWith: Nullable(S), policies: Strings }, closed),
    objects: Strings,
    exposure: Type.Object({ listener: S, address: S }, closed),
    regions: S,
    schema: Type.Object({ operationId: S, request: Strings, responses: Strings }, closed),
    consumersSeen: Strings,
    rateExpectations: Strings,
    logging: Type.Object({ always: Strings, seen: Strings }, closed),
    classification: S,
    safetyImpact: S,
    privacyImpact: S,
    financialImpact: S,
    decommission: Type.Object({ sunset: Nullable(S), migration: Nullable(S), successor: Nullable(S) }, closed),
    lastSecurityReview: S,
    knownExceptions: Type.Union([Strings, Type.Literal('unknown')]),
  },
  closed,
);

/** A client still calling a deprecated version. */
export const DeprecatedUseView = Type.Object(
  {
    route: S,
    version: S,
    clientId: S,
    calls: Type.Integer(),
    vehicles: Type.Integer(),
    firstAt: S,
    lastAt: S,
  },
  closed,
);

/** One governance number. */
export const GovernanceMetricView = Type.Object(
  {
    measure: S,
    name: S,
    help: S,
    labels: Type.Record(S, S),
    value: Nullable(Type.Number()),
    reason: Nullable(S),
  },
  closed,
);

/** One recorded series of the governance history: a metric's values at each snapshot, oldest first. */
export const GovernanceSeriesView = Type.Object(
  {
    measure: S,
    name: S,
    labels: Type.Record(S, S),
    points: Type.Array(Type.Object({ at: S, value: Type.Number() }, closed)),
  },
  closed,
);
