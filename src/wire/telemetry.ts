import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { canonicalJson } from './canonical.js';

const closed = { additionalProperties: false } as const;
const UUID = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
/** Printable ASCII without quotes or backslashes: versions and config ids show up in investigations. */
const LABEL = '^[A-Za-z0-9._:+\\-]{1,64}$';

/** Door names a `doors` payload may list as open. */
export const DOOR_NAMES = [
  'front_left',
  'front_right',
  'rear_left',
  'rear_right',
  'trunk',
  'hood',
  'charge_port',
] as const;
/** A door name. */
export type DoorName = (typeof DOOR_NAMES)[number];

/**
 * JSON Schemas of the payload kinds. Bounds here are physical limits (a latitude, a percentage); the
 * gateway's configurable plausibility checks (speed limit, odometer monotonicity, position jumps) come after.
 */
export const PAYLOAD_SCHEMAS = {
  position: Type.Object(
    {
      kind: Type.Literal('position'),
      lat: Type.Number({ minimum: -90, maximum: 90 }),
      lon: Type.Number({ minimum: -180, maximum: 180 }),
      altitudeM: Type.Optional(Type.Number({ minimum: -500, maximum: 9000 })),
      headingDeg: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 360 })),
      accuracyM: Type.Optional(Type.Number({ minimum: 0, maximum: 100000 })),
    },
    closed,
  ),
  speed: Type.Object({ kind: Type.Literal('speed'), kmh: Type.Number({ minimum: 0, maximum: 1000 }) }, closed),
  odometer: Type.Object(
    { kind: Type.Literal('odometer'), km: Type.Number({ minimum: 0, maximum: 10_000_000 }) },
    closed,
  ),
  battery: Type.Object(
    {
      kind: Type.Literal('battery'),
      socPercent: Type.Number({ minimum: 0, maximum: 100 }),
      charging: Type.Boolean(),
      plugged: Type.Boolean(),
      rangeKm: Type.Optional(Type.Number({ minimum: 0, maximum: 5000 })),
    },
    closed,
  ),
  doors: Type.Object(
    {
      kind: Type.Literal('doors'),
      locked: Type.Boolean(),
      open: Type.Array(Type.Union(DOOR_NAMES.map((d) => Type.Literal(d))), {
        maxItems: DOOR_NAMES.length,
        uniqueItems: true,
      }),
    },
    closed,
  ),
  gear: Type.Object(
    {
      kind: Type.Literal('gear'),
      gear: Type.Union([Type.Literal('P'), Type.Literal('R'), Type.Literal('N'), Type.Literal('D')]),
    },
    closed,
  ),
  diagnostics: Type.Object(
    {
      kind: Type.Literal('diagnostics'),
      codes: Type.Array(
        Type.Object(
          {
            // SAE J2012 / ISO 15031-6 trouble codes: P, C, B or U and four hex digits.
            code: Type.String({ pattern: '^[PCBU][0-9A-F]{4}$' }),
            status: Type.Union([Type.Literal('active'), Type.Literal('pending'), Type.Literal('cleared')]),
          },
          closed,
        ),
        { maxItems: 64 },
      ),
    },
    closed,
  ),
} satisfies Record<string, TSchema>;

/** The payload kinds. */
export type PayloadKind = keyof typeof PAYLOAD_SCHEMAS;
/** What a telemetry message reports: one kind per message. */
export type TelemetryPayload = { [K in PayloadKind]: Static<(typeof PAYLOAD_SCHEMAS)[K]> }[PayloadKind];

const header = {
  deviceId: Type.String({ pattern: UUID }),
  vehicleId: Type.String({ pattern: UUID }),
  bootId: Type.String({ pattern: UUID }),
  seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  // Epoch milliseconds up to the end of year 9999, so stored ISO times keep their fixed width.
  ts: Type.Integer({ minimum: 0, maximum: 253402300799999 }),
  swVersion: Type.String({ pattern: LABEL }),
  configId: Type.String({ pattern: LABEL }),
};

/**
 * The signed message with its payload checked only for a known kind: validation checks this first and then
 * the kind's own schema, so an error names the field of the right kind instead of every branch of a union.
 */
export const MESSAGE_SCHEMA = Type.Object(
  { ...header, payload: Type.Object({ kind: Type.Union(Object.keys(PAYLOAD_SCHEMAS).map((k) => Type.Literal(k))) }) },
  closed,
);

/**
 * One telemetry message as signed by the device. `seq` is monotonic per device across boots (the SDK
 * persists it); `bootId` is a random id per boot, kept for provenance; `ts` is epoch milliseconds.
 */
export const TelemetryMessageSchema = Type.Object(
  { ...header, payload: Type.Union(Object.values(PAYLOAD_SCHEMAS)) },
  closed,
);
/** A telemetry message. */
export type TelemetryMessage = Omit<Static<typeof TelemetryMessageSchema>, 'payload'> & { payload: TelemetryPayload };

/** A message on the wire: its RFC 8785 canonical JSON text and the device's signature over its UTF-8 bytes. */
export const SignedTelemetrySchema = Type.Object(
  {
    /** The canonical JSON text, exactly the bytes that were signed. */
    signed: Type.String(),
    /** base64url signature: Ed25519, or ECDSA P-256 with SHA-256 as r||s (IEEE P1363, 64 bytes). */
    sig: Type.String(),
  },
  closed,
);
/** A signed telemetry message. */
export type SignedTelemetry = Static<typeof SignedTelemetrySchema>;

/** The gateway's verdict on one message of a batch. */
export const TelemetryVerdictSchema = Type.Object(
  {
    index: Type.Integer(),
    seq: Type.Union([Type.Integer(), Type.Null()]),
    verdict: Type.Union([Type.Literal('accepted'), Type.Literal('duplicate'), Type.Literal('rejected')]),
    reason: Type.Optional(Type.String()),
    detail: Type.Optional(Type.String()),
    flags: Type.Optional(Type.Array(Type.String())),
  },
  closed,
);

/** The gateway's answer to a telemetry batch: one verdict per message, in order. */
export const TelemetryReceiptSchema = Type.Object(
  {
    batchId: Type.String(),
    accepted: Type.Integer(),
    duplicates: Type.Integer(),
    rejected: Type.Integer(),
    verdicts: Type.Array(TelemetryVerdictSchema),
  },
  closed,
);
/** A telemetry receipt. */
export type TelemetryReceipt = Static<typeof TelemetryReceiptSchema>;

const headerCheck = TypeCompiler.Compile(MESSAGE_SCHEMA);
const payloadChecks = new Map<string, TypeCheck<TSchema>>(
  Object.entries(PAYLOAD_SCHEMAS).map(([k, s]) => [k, TypeCompiler.Compile<TSchema>(s)]),
);

/** Validates a parsed message; returns it typed, or the path and reason of the first problem. */
export function validateTelemetryMessage(
  value: unknown,
): { ok: true; message: TelemetryMessage } | { ok: false; detail: string } {
  if (!headerCheck.Check(value)) return { ok: false, detail: describe(headerCheck.Errors(value).First()) };
  const check = payloadChecks.get(value.payload.kind);
  if (!check) return { ok: false, detail: '/payload/kind: unknown kind' };
  if (!check.Check(value.payload))
    return { ok: false, detail: describe(check.Errors(value.payload).First(), '/payload') };
  return { ok: true, message: value as TelemetryMessage };
}

function describe(error: { path: string; message: string } | undefined, prefix = ''): string {
  if (!error) return 'invalid';
  // Bounded: the detail is returned to the device and kept in the audit trail.
  return `${prefix}${error.path || '/'}: ${error.message}`.slice(0, 160);
}

/** The RFC 8785 canonical JSON text of a message: what the device signs and the gateway verifies. */
export function canonicalMessage(message: TelemetryMessage): string {
  return canonicalJson(message);
}
