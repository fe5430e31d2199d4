import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';

const closed = { additionalProperties: false } as const;
const UUID = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
/** Printable ASCII without quotes or backslashes: versions and config ids show up in investigations. */
const LABEL = '^[A-Za-z0-9._:+\\-]{1,64}$';
const DOORS = ['front_left', 'front_right', 'rear_left', 'rear_right', 'trunk', 'hood', 'charge_port'] as const;

/**
 * JSON Schemas of the payload kinds. Bounds here are physical limits (a latitude, a percentage); the
 * configurable plausibility checks (speed limit, odometer monotonicity, position jumps) come after.
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
      open: Type.Array(Type.Union(DOORS.map((d) => Type.Literal(d))), { maxItems: DOORS.length, uniqueItems: true }),
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

/** The signed message: identity, sequence, time, software provenance and one payload. */
export const MESSAGE_SCHEMA = Type.Object(
  {
    deviceId: Type.String({ pattern: UUID }),
    vehicleId: Type.String({ pattern: UUID }),
    bootId: Type.String({ pattern: UUID }),
    seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    // Epoch milliseconds up to the end of year 9999, so stored ISO times keep their fixed width.
    ts: Type.Integer({ minimum: 0, maximum: 253402300799999 }),
    swVersion: Type.String({ pattern: LABEL }),
    configId: Type.String({ pattern: LABEL }),
    payload: Type.Object({ kind: Type.Union(Object.keys(PAYLOAD_SCHEMAS).map((k) => Type.Literal(k))) }),
  },
  closed,
);

/** A message that passed the schema. */
export type ValidMessage = Omit<Static<typeof MESSAGE_SCHEMA>, 'payload'> & { payload: Payload };
/** A payload that passed its kind's schema. */
export type Payload = { [K in PayloadKind]: Static<(typeof PAYLOAD_SCHEMAS)[K]> }[PayloadKind];

const envelope = TypeCompiler.Compile(MESSAGE_SCHEMA);
const payloads = new Map<string, TypeCheck<TSchema>>(
  Object.entries(PAYLOAD_SCHEMAS).map(([k, s]) => [k, TypeCompiler.Compile<TSchema>(s)]),
);

/** Validates a parsed message; returns it typed, or the path and reason of the first problem. */
export function validateMessage(value: unknown): { ok: true; message: ValidMessage } | { ok: false; detail: string } {
  if (!envelope.Check(value)) return { ok: false, detail: describe(envelope.Errors(value).First()) };
  const check = payloads.get(value.payload.kind);
  if (!check) return { ok: false, detail: '/payload/kind: unknown kind' };
  if (!check.Check(value.payload))
    return { ok: false, detail: describe(check.Errors(value.payload).First(), '/payload') };
  return { ok: true, message: value as ValidMessage };
}

function describe(error: { path: string; message: string } | undefined, prefix = ''): string {
  if (!error) return 'invalid';
  // Bounded: the detail is returned to the device and kept in the audit trail.
  return `${prefix}${error.path || '/'}: ${error.message}`.slice(0, 160);
}
