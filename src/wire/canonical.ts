import { createHash, createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';
import canonicalize from 'canonicalize';

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

/** A public key from a JWK (OKP Ed25519 or EC P-256). */
export function publicKeyFromJwk(jwk: Record<string, unknown>): KeyObject {
  return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
}

/** Verifies a detached signature: Ed25519, or ECDSA P-256/SHA-256 in IEEE P1363 (r||s) form. */
export function verifyDetached(key: KeyObject, data: string | Uint8Array, sigB64url: string): boolean {
  try {
    const sig = Buffer.from(sigB64url, 'base64url');
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (key.asymmetricKeyType === 'ed25519') return verify(null, bytes, key, sig);
    if (key.asymmetricKeyType === 'ec') return verify('sha256', bytes, { key, dsaEncoding: 'ieee-p1363' }, sig);
    return false;
  } catch {
    return false;
  }
}

/** Parses canonical signed JSON; null unless it is an object whose bytes are exactly its canonical form. */
export function parseCanonical(signed: unknown, maxLength = 8192): Record<string, unknown> | null {
  if (typeof signed !== 'string' || signed.length > maxLength) return null;
  try {
    const value: unknown = JSON.parse(signed);
    if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
    return canonicalJson(value) === signed ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
