import { createHash, createPublicKey, type JsonWebKey, type KeyObject, verify as verifySignature } from 'node:crypto';
import canonicalize from 'canonicalize';

/**
 * The command envelope as it travels: `signed` is the RFC 8785 canonical JSON of the claims and `sig` the
 * platform command key's Ed25519 signature over exactly those UTF-8 bytes (base64url). Declared in the SDK
 * because it is the wire contract the vehicle verifies; the server imports it from here.
 */
export interface SignedEnvelope {
  signed: string;
  sig: string;
}

/** What an envelope binds. Times are epoch milliseconds. */
export interface EnvelopeClaims {
  v: 1;
  kid: string;
  vehicleId: string;
  deviceId: string;
  jobId: string;
  command: string;
  params: Record<string, unknown>;
  paramsHash: string;
  issuedAt: number;
  expiresAt: number;
  counter: number;
  decisionHash: string;
}

/** The vehicle's signed answer, bound to the envelope's hash and the result. */
export interface AckClaims {
  v: 1;
  jobId: string;
  vehicleId: string;
  deviceId: string;
  envelopeHash: string;
  counter: number;
  result: 'executed' | 'failed' | 'refused';
  /** Why it failed or was refused (see AckCode). */
  code: string | null;
  at: number;
}

/**
 * Extended key usage that marks a certificate's key as the platform's command-signing key (a UUID OID,
 * X.667 arc 2.25). A vehicle that pins the root CA trusts an envelope key only if its certificate chains to
 * that root and carries this EKU.
 */
export const COMMAND_SIGNING_EKU = '2.25.164837225408317046214538066417095306027';

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

/** RFC 8785 canonical JSON; throws on values JSON cannot carry. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('value has no canonical JSON form');
  return text;
}

/** SHA-256 as base64url. */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('base64url');
}

/** The hash of a command's parameters that the envelope binds. */
export function paramsHash(params: Record<string, unknown>): string {
  return sha256(canonicalJson(params));
}

/** The hash an acknowledgement binds: over the exact signed bytes of the envelope. */
export function envelopeHash(envelope: SignedEnvelope): string {
  return sha256(envelope.signed);
}

/** A public key from a JWK (OKP Ed25519 or EC P-256). */
export function publicKeyFromJwk(jwk: Record<string, unknown>): KeyObject {
  return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
}

/** Verifies a detached signature: Ed25519, or ECDSA P-256/SHA-256 in IEEE P1363 (r||s) form. */
export function verifyDetached(key: KeyObject, data: string, sigB64url: string): boolean {
  try {
    const sig = Buffer.from(sigB64url, 'base64url');
    if (key.asymmetricKeyType === 'ed25519') return verifySignature(null, Buffer.from(data), key, sig);
    if (key.asymmetricKeyType === 'ec')
      return verifySignature('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }, sig);
    return false;
  } catch {
    return false;
  }
}

/** Parses canonical signed JSON; null unless it is an object whose bytes are exactly its canonical form. */
export function parseCanonical(signed: unknown): Record<string, unknown> | null {
  if (typeof signed !== 'string' || signed.length > 8192) return null;
  try {
    const value: unknown = JSON.parse(signed);
    if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
    return canonicalJson(value) === signed ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
