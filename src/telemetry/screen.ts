import { type KeyObject, verify } from 'node:crypto';
import canonicalize from 'canonicalize';
import { type ValidMessage, validateMessage } from './payload-schemas.js';

/** Why a message was rejected. Stable strings: devices and dashboards match on them. */
export type RejectReason =
  | 'bad_signature'
  | 'identity_mismatch'
  | 'sequence_too_old'
  | 'timestamp_skew'
  | 'invalid_schema'
  | 'too_large'
  | 'rate_limited'
  | 'quarantined'
  | 'odometer_decreased'
  | 'speed_out_of_bounds';

/** A message as it arrived: the canonical JSON text and its signature. */
export interface Envelope {
  signed: string;
  sig: string;
}

/** What screening found out about one message, before any state is consulted. */
export type Screened =
  /** Refused outright; `bytes` is set when the message is worth keeping as evidence. */
  | {
      kind: 'rejected';
      reason: RejectReason;
      detail?: string;
      bytes: Buffer | null;
      sig: string;
      message: ValidMessage | null;
    }
  /** Authentic and well-formed; `pending` is a rejection that applies if the window calls it fresh. */
  | {
      kind: 'candidate';
      message: ValidMessage;
      bytes: Buffer;
      sig: string;
      pending: { reason: RejectReason; detail: string } | null;
      signer: SigningKey;
    };

/** A key the device signed with: its current certificate's, or a predecessor's until that was replaced. */
export interface SigningKey {
  serial: string;
  thumbprint: string;
  key: KeyObject;
  /**
   * Messages with a timestamp after this (ms, plus the allowed skew) may not use this key; null for the current one.
   */
  until: number | null;
}

/** What screening needs: the presenting device, its keys, limits and the clock. */
export interface ScreenContext {
  deviceId: string;
  vehicleId: string;
  /** The current certificate's key first, then unrevoked predecessors (a backlog recorded before a rotation). */
  keys: SigningKey[];
  now: number;
  backfill: boolean;
  maxMessageBytes: number;
  maxSkewMs: number;
  backfillMaxAgeMs: number;
  maxSpeedKmh: number;
}

const B64URL = /^[A-Za-z0-9_-]{86}$/;

function isEnvelope(value: unknown): value is Envelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return (
    keys.length === 2 && typeof (value as Envelope).signed === 'string' && typeof (value as Envelope).sig === 'string'
  );
}

/** Verifies a 64-byte signature over `data`: Ed25519, or ECDSA P-256 / SHA-256 in IEEE P1363 form. */
export function verifySignature(key: KeyObject, data: Buffer, sig: Buffer): boolean {
  try {
    return key.asymmetricKeyType === 'ec'
      ? verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig)
      : verify(null, data, key, sig);
  } catch {
    return false;
  }
}

/**
 * Judges one message on its own: envelope, size, signature (over the exact bytes received, with the key of
 * the certificate on this connection), canonical form, schema, the identity it claims, its timestamp and
 * stateless bounds. The signature is checked first so that everything after it is about authentic content.
 */
export function screenMessage(value: unknown, ctx: ScreenContext): Screened {
  if (!isEnvelope(value))
    return {
      kind: 'rejected',
      reason: 'invalid_schema',
      detail: 'a message is {"signed": "<canonical JSON>", "sig": "<base64url>"}',
      bytes: null,
      sig: '',
      message: null,
    };
  const bytes = Buffer.from(value.signed, 'utf8');
  if (bytes.length > ctx.maxMessageBytes)
    return {
      kind: 'rejected',
      reason: 'too_large',
      detail: `over ${ctx.maxMessageBytes} bytes`,
      bytes: null,
      sig: '',
      message: null,
    };
  const sigText = value.sig.slice(0, 100);
  const sigBytes = B64URL.test(value.sig) ? Buffer.from(value.sig, 'base64url') : null;
  // Canonical base64url only: a second spelling of the same signature would not be unique evidence.
  const signer =
    sigBytes && sigBytes.toString('base64url') === value.sig
      ? ctx.keys.find((k) => verifySignature(k.key, bytes, sigBytes))
      : undefined;
  if (!signer) return { kind: 'rejected', reason: 'bad_signature', bytes, sig: sigText, message: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.signed);
  } catch {
    return { kind: 'rejected', reason: 'invalid_schema', detail: 'not JSON', bytes, sig: value.sig, message: null };
  }
  let canonical: string | undefined;
  try {
    canonical = canonicalize(parsed);
  } catch {
    canonical = undefined;
  }
  // One message, one encoding: what was signed must be the RFC 8785 form, or equal messages could differ in bytes.
  if (canonical !== value.signed)
    return {
      kind: 'rejected',
      reason: 'invalid_schema',
      detail: 'not RFC 8785 canonical JSON',
      bytes,
      sig: value.sig,
      message: null,
    };
  const valid = validateMessage(parsed);
  if (!valid.ok)
    return { kind: 'rejected', reason: 'invalid_schema', detail: valid.detail, bytes, sig: value.sig, message: null };
  const message = valid.message;
  if (message.deviceId !== ctx.deviceId || message.vehicleId !== ctx.vehicleId) {
    const detail =
      message.deviceId !== ctx.deviceId
        ? "deviceId is not the certificate's device"
        : "vehicleId is not the device's vehicle";
    return { kind: 'rejected', reason: 'identity_mismatch', detail, bytes, sig: value.sig, message };
  }
  // A predecessor's key is good only for what was recorded while its certificate was current.
  if (signer.until !== null && message.ts > signer.until + ctx.maxSkewMs) {
    return {
      kind: 'rejected',
      reason: 'bad_signature',
      detail: 'signed with the key of a certificate that had already been replaced',
      bytes,
      sig: value.sig,
      message,
    };
  }
  return { kind: 'candidate', message, bytes, sig: value.sig, pending: pendingRejection(message, ctx), signer };
}

function pendingRejection(message: ValidMessage, ctx: ScreenContext): { reason: RejectReason; detail: string } | null {
  const ahead = message.ts - ctx.now;
  if (ahead > ctx.maxSkewMs)
    return { reason: 'timestamp_skew', detail: `${Math.round(ahead / 1000)} s ahead of the gateway clock` };
  const behind = -ahead;
  const allowed = ctx.backfill ? ctx.backfillMaxAgeMs : ctx.maxSkewMs;
  if (behind > allowed) {
    return {
      reason: 'timestamp_skew',
      detail: `${Math.round(behind / 1000)} s behind the gateway clock${ctx.backfill ? ' (older than the backfill window)' : '; send recorded messages through the backfill route'}`,
    };
  }
  if (message.payload.kind === 'speed' && message.payload.kmh > ctx.maxSpeedKmh) {
    return { reason: 'speed_out_of_bounds', detail: `over ${ctx.maxSpeedKmh} km/h` };
  }
  return null;
}
