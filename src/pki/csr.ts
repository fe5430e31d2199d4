import { CarapaceError } from '../platform/index.js';
import { x509 } from '../platform/index.js';
import { type CanonicalKey, canonicalDeviceKey, type DeviceKeyType } from './public-key.js';

/** Largest CSR we parse; a P-256 or Ed25519 CSR is well under 1 KiB. */
export const MAX_CSR_BYTES = 8 * 1024;

export type { DeviceKeyType };

/**
 * A CSR that proved possession of its key. Only the key is used (subject and extensions are ignored), and only
 * in canonical form: a compressed or hybrid point in the CSR is certified uncompressed.
 */
export interface VerifiedCsr extends CanonicalKey {
  publicKey: x509.PublicKey;
}

function invalid(reason: string, message: string, cause?: unknown): CarapaceError {
  return new CarapaceError('ERR_PKI_CSR_INVALID', message, { reason }, cause === undefined ? undefined : { cause });
}

/**
 * Parses a CSR given as PEM text or DER bytes, checks its key (type, strength, canonical form) and its
 * signature (proof of possession). Any failure, however malformed the input, is ERR_PKI_CSR_INVALID with a
 * reason a device developer can act on.
 */
export async function verifyCsr(input: string | Uint8Array): Promise<VerifiedCsr> {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
  if (size === 0) throw invalid('missing', 'the request carries no CSR');
  if (size > MAX_CSR_BYTES) throw invalid('too_large', `the CSR is larger than ${MAX_CSR_BYTES} bytes`);
  let csr: x509.Pkcs10CertificateRequest;
  let spki: ArrayBuffer;
  try {
    const bytes =
      typeof input !== 'string'
        ? input
        : input.includes('-----BEGIN')
          ? x509.PemConverter.decodeFirst(input)
          : Buffer.from(input, 'base64');
    csr = new x509.Pkcs10CertificateRequest(bytes);
    spki = csr.publicKey.rawData;
  } catch (cause) {
    throw invalid('unparseable', 'the CSR is not a PKCS#10 request in PEM or DER form', cause);
  }
  const key = canonicalDeviceKey(new Uint8Array(spki));
  let valid = false;
  try {
    valid = await csr.verify();
  } catch {
    valid = false;
  }
  if (!valid)
    throw invalid('bad_signature', 'the CSR signature does not verify: it does not prove possession of the key');
  return { ...key, publicKey: new x509.PublicKey(key.spki) };
}
