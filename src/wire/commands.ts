import { type Static, Type } from '@sinclair/typebox';
import { sha256, canonicalJson } from './canonical.js';

const closed = { additionalProperties: false } as const;

/**
 * The command names, in catalog order. The server's catalog (src/commands/catalog.ts) holds one entry per
 * name with its rules; the vehicle SDK uses the names to type what it can execute.
 */
export const COMMAND_NAMES = [
  'lock',
  'unlock',
  'remote_start',
  'remote_stop',
  'climate',
  'horn_lights',
  'charge_start',
  'charge_stop',
  'charge_limit',
  'trunk_open',
  'diagnostics_run',
  'immobilize',
] as const;
/** A command name. */
export type CommandName = (typeof COMMAND_NAMES)[number];

/** Whether a value is one of the command names. */
export function isCommandName(value: unknown): value is CommandName {
  return typeof value === 'string' && (COMMAND_NAMES as readonly string[]).includes(value);
}

/**
 * Extended key usage that marks a certificate's key as the platform's command-signing key (a UUID OID,
 * X.667 arc 2.25). A vehicle that pins the root CA trusts an envelope key only if its certificate chains to
 * that root and carries this EKU.
 */
export const COMMAND_SIGNING_EKU = '2.25.164837225408317046214538066417095306027';

/**
 * A signed object as it travels, for envelopes and acknowledgements alike: `signed` is the RFC 8785
 * canonical JSON of the claims and `sig` the signer's signature over exactly those UTF-8 bytes (base64url).
 */
export const SignedEnvelopeSchema = Type.Object(
  { signed: Type.String({ maxLength: 8192 }), sig: Type.String({ maxLength: 512 }) },
  closed,
);
/** A signed envelope or acknowledgement. */
export type SignedEnvelope = Static<typeof SignedEnvelopeSchema>;

/**
 * What an envelope binds. Times are epoch milliseconds. `command` is any name, not only today's: a vehicle
 * answers a name it does not know with `unsupported_command`, which an older SDK must still be able to say.
 */
export const EnvelopeClaimsSchema = Type.Object(
  {
    v: Type.Literal(1),
    kid: Type.String({ minLength: 1, maxLength: 128 }),
    vehicleId: Type.String({ minLength: 1, maxLength: 64 }),
    deviceId: Type.String({ minLength: 1, maxLength: 64 }),
    jobId: Type.String({ minLength: 1, maxLength: 64 }),
    command: Type.String({ minLength: 1, maxLength: 64 }),
    params: Type.Record(Type.String(), Type.Unknown()),
    paramsHash: Type.String(),
    issuedAt: Type.Integer({ minimum: 0 }),
    expiresAt: Type.Integer({ minimum: 0 }),
    counter: Type.Integer({ minimum: 0 }),
    decisionHash: Type.String(),
  },
  closed,
);
/** The claims of a command envelope. */
export type EnvelopeClaims = Static<typeof EnvelopeClaimsSchema>;

/** Refusal codes: every one of these means the vehicle did nothing, so a new request is safe. */
export const REFUSAL_CODES = [
  'malformed',
  'unknown_key',
  'bad_signature',
  'wrong_vehicle',
  'wrong_device',
  'expired',
  'not_yet_valid',
  'replayed',
  'counter_too_old',
  'params_mismatch',
  'unsupported_command',
  'unsafe_state',
] as const;
/** A refusal code. */
export type RefusalCode = (typeof REFUSAL_CODES)[number];

/** The vehicle's signed answer, bound to the envelope's hash and the result. */
export const AckClaimsSchema = Type.Object(
  {
    v: Type.Literal(1),
    jobId: Type.String({ minLength: 1, maxLength: 64 }),
    vehicleId: Type.String({ maxLength: 64 }),
    deviceId: Type.String({ maxLength: 64 }),
    envelopeHash: Type.String({ maxLength: 64 }),
    /** The envelope's counter; 0 when a refused envelope carried none. */
    counter: Type.Integer({ minimum: 0 }),
    result: Type.Union([Type.Literal('executed'), Type.Literal('failed'), Type.Literal('refused')]),
    /** Why it failed or was refused: a refusal code, or the vehicle's own failure code. */
    code: Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()]),
    at: Type.Integer({ minimum: 0 }),
  },
  closed,
);
/** The claims of an acknowledgement. */
export type AckClaims = Static<typeof AckClaimsSchema>;

/** Frames on the command channel, gateway to vehicle: one envelope per frame. */
export const CommandFrameSchema = Type.Object(
  { type: Type.Literal('command'), envelope: SignedEnvelopeSchema },
  closed,
);
/** Frames on the command channel, vehicle to gateway: an acknowledgement, or a renewed command token. */
export const AckFrameSchema = Type.Object({ type: Type.Literal('ack'), ack: SignedEnvelopeSchema }, closed);
/** A renewed command-channel token, sent before the current one expires. */
export const TokenFrameSchema = Type.Object({ type: Type.Literal('token'), token: Type.String() }, closed);
/** A command frame. */
export type CommandFrame = Static<typeof CommandFrameSchema>;
/** An acknowledgement frame. */
export type AckFrame = Static<typeof AckFrameSchema>;

/** The hash of a command's parameters that the envelope binds. */
export function paramsHash(params: Record<string, unknown>): string {
  return sha256(canonicalJson(params));
}

/** The hash an acknowledgement binds: over the exact signed bytes of the envelope. */
export function envelopeHash(envelope: SignedEnvelope): string {
  return sha256(envelope.signed);
}
