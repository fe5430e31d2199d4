import { Type } from '@sinclair/typebox';
import { AuditEventView, CheckpointView } from '../admin/index.js';
import { FOLLOWABLE } from './expand.js';
import { PIVOTS } from './investigate.js';

const closed = { additionalProperties: false } as const;
const S = Type.String();
const N = Type.Integer();
const Nul = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Strings = Type.Array(S);
const Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Digits = (max: number) => Type.String({ pattern: `^[0-9]{1,${max}}$` });

/** The query string: a closed list of pivots, so an unknown one is a 400 naming the field. */
export const InvestigationQueryString = Type.Object(
  {
    pivot: Type.Union(PIVOTS.map((p) => Type.Literal(p))),
    value: Type.String({ minLength: 1, maxLength: 200 }),
    from: Type.Optional(Type.String({ maxLength: 40 })),
    to: Type.Optional(Type.String({ maxLength: 40 })),
    follow: Type.Optional(Type.String({ pattern: `^(${FOLLOWABLE.join('|')})(,(${FOLLOWABLE.join('|')}))*$` })),
    maxEvents: Type.Optional(Digits(5)),
    maxHops: Type.Optional(Digits(1)),
    proofs: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
  },
  closed,
);

const TelemetryView = Type.Object(
  {
    vehicleId: S,
    accepted: N,
    rejected: N,
    kinds: Type.Record(S, N),
    firstReceivedAt: Nul(S),
    lastReceivedAt: Nul(S),
    software: Type.Union([Type.Object({ swVersion: Nul(S), configId: Nul(S), reportedAt: S }, closed), Type.Null()]),
    swVersionsInWindow: Strings,
    configIdsInWindow: Strings,
  },
  closed,
);

const VehicleView = Type.Object(
  {
    vehicleId: S,
    known: Type.Boolean(),
    vin: Nul(S),
    outcome: Type.Union([Type.Literal('acted'), Type.Literal('denied')]),
    allowed: N,
    denied: N,
    evidence: Strings,
    telemetry: Type.Union([TelemetryView, Type.Null()]),
  },
  closed,
);

const ObjectRef = Type.Union([Type.Object({ type: S, id: Nul(S) }, closed), Type.Null()]);

const ProofView = Type.Object(
  {
    eventId: S,
    seq: N,
    leafIndex: N,
    canonicalEvent: S,
    leafHash: Hex,
    auditPath: Type.Array(Hex),
    checkpoint: CheckpointView,
  },
  closed,
);

/** The answer, closed like every response: a new field must be added here before it can leave. */
export const InvestigationView = Type.Object(
  {
    pivot: Type.Object(
      { kind: S, value: S, searchedAs: Type.Union([Type.Object({ kind: S, value: S }, closed), Type.Null()]) },
      closed,
    ),
    window: Type.Object({ from: S, to: S }, closed),
    bounds: Type.Object({ maxEvents: N, maxHops: N, follow: Strings }, closed),
    truncated: Type.Boolean(),
    truncation: Strings,
    hops: N,
    searched: Type.Array(Type.Object({ kind: S, value: S, hop: N, events: N }, closed)),
    vehicles: Type.Array(VehicleView),
    requests: Type.Array(
      Type.Object({ requestId: S, traceId: Nul(S), sourceIp: Nul(S), firstAt: S, events: N, denied: N }, closed),
    ),
    nodes: Type.Object(
      {
        users: Strings,
        clients: Strings,
        tokens: Strings,
        devices: Strings,
        certificates: Type.Object({ serials: Strings, thumbprints: Strings }, closed),
        sourceAddresses: Strings,
        traces: Strings,
        backendServices: Strings,
        policyVersions: Strings,
        jobIds: Strings,
      },
      closed,
    ),
    commands: Type.Array(
      Type.Object(
        {
          jobId: S,
          vehicleId: S,
          command: S,
          state: S,
          reason: Nul(S),
          retry: Nul(S),
          requesterId: S,
          clientId: S,
          policyVersion: S,
          createdAt: S,
          updatedAt: S,
          events: Strings,
        },
        closed,
      ),
    ),
    decisions: Type.Array(
      Type.Object(
        {
          eventId: S,
          at: S,
          action: S,
          object: ObjectRef,
          decision: S,
          reason: Nul(S),
          policyVersion: Nul(S),
        },
        closed,
      ),
    ),
    events: Type.Array(AuditEventView),
    proofs: Type.Union([Type.Object({ inclusion: Type.Array(ProofView), unsealed: Strings }, closed), Type.Null()]),
    notRecorded: Strings,
  },
  closed,
);
