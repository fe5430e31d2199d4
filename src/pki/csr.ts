import * as x509 from '../platform/x509.js';
import { CarapaceError } from '../platform/errors.js';
import { publicKeySpkiSha256 } from './fingerprints.js';

/** Largest CSR we parse; a P-256 or Ed25519 CSR is well under 1 KiB. */
export const MAX_CSR_BYTES = 8 * 1024;

/** Device key types we certify. Telemetry and acknowledgements are signed with the same key. */
export type DeviceKeyType = 'Ed25519' | 'P-256';

/** A CSR that proved possession of its key. Only the key is used: subject and extensions are ignored. */
export interface VerifiedCsr {
  publicKey: x509.PublicKey;
  keyType: DeviceKeyType;
  spkiSha256: string;
}

function keyTypeOf(key: x509.PublicKey): DeviceKeyType | null {
  const alg = key.algorithm as { name: string; namedCurve?: string };
  if (alg.name === 'Ed25519') return 'Ed25519';
  if (alg.name === 'ECDSA' && alg.namedCurve === 'P-256') return 'P-256';
  return null;
}

/**
 * Parses a CSR given as PEM text or DER bytes, checks its signature (proof of possession) and its key type.
 * Throws ERR_PKI_CSR_INVALID with a reason a device developer can act on.
 */
export async function verifyCsr(input: string | Uint8Array): Promise<VerifiedCsr> {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
  if (size === 0) throw new CarapaceError('ERR_PKI_CSR_INVALID', 'the request carries no CSR', { reason: 'missing' });
  if (size > MAX_CSR_BYTES) throw new CarapaceError('ERR_PKI_CSR_INVALID', `the CSR is larger than ${MAX_CSR_BYTES} bytes`, { reason: 'too_large' });
  let csr: x509.Pkcs10CertificateRequest;
  try {
    const text = typeof input === 'string' ? input : null;
    const bytes = text !== null && text.includes('-----BEGIN') ? x509.PemConverter.decodeFirst(text) : typeof input === 'string' ? Buffer.from(input, 'base64') : input;
    csr = new x509.Pkcs10CertificateRequest(bytes);
  } catch (cause) {
    throw new CarapaceError('ERR_PKI_CSR_INVALID', 'the CSR is not a PKCS#10 request in PEM or DER form', { reason: 'unparseable' }, { cause });
  }
  const keyType = keyTypeOf(csr.publicKey);
  if (!keyType) {
    throw new CarapaceError('ERR_PKI_CSR_INVALID', 'the CSR key must be Ed25519 or ECDSA P-256', { reason: 'key_type' });
  }
  let valid = false;
  try {
    valid = await csr.verify();
  } catch {
    valid = false;
  }
  if (!valid) throw new CarapaceError('ERR_PKI_CSR_INVALID', 'the CSR signature does not verify: it does not prove possession of the key', { reason: 'bad_signature' });
  return { publicKey: csr.publicKey, keyType, spkiSha256: publicKeySpkiSha256(csr.publicKey) };
}
