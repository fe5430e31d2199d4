import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { CarapaceError } from '../platform/index.js';

/** Device key types we certify. Telemetry and acknowledgements are signed with the same key. */
export type DeviceKeyType = 'Ed25519' | 'P-256';

/** A public key in one canonical encoding, so the same key always hashes the same. */
export interface CanonicalKey {
  keyType: DeviceKeyType;
  /** SPKI DER as Node exports it: EC points uncompressed, whatever encoding came in. */
  spki: Buffer;
  spkiSha256: string;
}

/**
 * Ed25519 points of small order, compared with the sign bit cleared (libsodium's blocklist). A signature
 * under such a key can be forged for any message, so such a "key" proves nothing.
 */
const SMALL_ORDER_ED25519 = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];

function weakEd25519(raw: Buffer): boolean {
  const masked = Buffer.from(raw);
  masked[31] = (masked[31] ?? 0) & 0x7f;
  if (SMALL_ORDER_ED25519.includes(masked.toString('hex'))) return true;
  // Non-canonical: the y coordinate is >= p = 2^255 - 19.
  return (masked[0] ?? 0) >= 0xed && masked.subarray(1, 31).every((b) => b === 0xff) && masked[31] === 0x7f;
}

function invalid(reason: string, message: string, cause?: unknown): CarapaceError {
  return new CarapaceError('ERR_PKI_CSR_INVALID', message, { reason }, cause === undefined ? undefined : { cause });
}

/**
 * The key's SPKI in one canonical encoding. Node keeps the point form it was given (a compressed P-256 point
 * exports compressed), so EC and OKP keys go through JWK, whose coordinates are encoding-free, and back.
 */
function canonicalSpki(key: KeyObject): Buffer {
  const type = key.asymmetricKeyType;
  if (type === 'ec' || type === 'ed25519' || type === 'ed448' || type === 'x25519' || type === 'x448') {
    return createPublicKey({ key: key.export({ format: 'jwk' }), format: 'jwk' }).export({
      type: 'spki',
      format: 'der',
    });
  }
  return key.export({ type: 'spki', format: 'der' });
}

/** SHA-256 (hex) of a key's canonical SPKI: the same key, the same hash, in any encoding. */
export function keyObjectSpkiSha256(key: KeyObject): string {
  return createHash('sha256').update(canonicalSpki(key)).digest('hex');
}

/**
 * Parses a DER SubjectPublicKeyInfo with OpenSSL, accepts only Ed25519 and P-256, refuses weak Ed25519 points,
 * and returns the key in canonical form. Throws ERR_PKI_CSR_INVALID (reason `key_type` or `weak_key`).
 */
export function canonicalDeviceKey(spkiDer: Uint8Array): CanonicalKey {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
  } catch (cause) {
    throw invalid('key_type', 'the CSR key must be Ed25519 or ECDSA P-256', cause);
  }
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  let keyType: DeviceKeyType;
  if (type === 'ed25519') keyType = 'Ed25519';
  else if (type === 'ec' && curve === 'prime256v1') keyType = 'P-256';
  else throw invalid('key_type', 'the CSR key must be Ed25519 or ECDSA P-256');
  const spki = canonicalSpki(key);
  if (keyType === 'Ed25519' && weakEd25519(spki.subarray(spki.length - 32))) {
    throw invalid('weak_key', 'the CSR key is a small-order or non-canonical Ed25519 point');
  }
  return { keyType, spki, spkiSha256: createHash('sha256').update(spki).digest('hex') };
}
