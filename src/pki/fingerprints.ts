import { createHash, X509Certificate as NodeX509 } from 'node:crypto';
import { PublicKey, X509Certificate } from '../platform/x509.js';

/** The RFC 8705 `x5t#S256` value: base64url SHA-256 of the DER certificate. */
export function certificateThumbprint(der: ArrayBuffer | Uint8Array): string {
  return createHash('sha256').update(new Uint8Array(der)).digest('base64url');
}

/** hex SHA-256 of a DER SubjectPublicKeyInfo, to recognise the same key across certificates and CSRs. */
export function spkiSha256(spki: ArrayBuffer | Uint8Array): string {
  return createHash('sha256').update(new Uint8Array(spki)).digest('hex');
}

/** Facts about a certificate that we store and audit (never the key). */
export interface CertificateFacts {
  serial: string;
  thumbprint: string;
  spkiSha256: string;
  notBefore: Date;
  notAfter: Date;
  /** SAN URIs, e.g. urn:carapace:device:<id>. */
  uris: string[];
}

/** Reads the stored facts from a Node or peculiar certificate. */
export function certificateFacts(cert: NodeX509 | X509Certificate): CertificateFacts {
  const peculiar = cert instanceof X509Certificate ? cert : new X509Certificate(cert.raw);
  const uris = (cert instanceof NodeX509 ? cert.subjectAltName ?? '' : new NodeX509(Buffer.from(peculiar.rawData)).subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
  return {
    serial: peculiar.serialNumber.toUpperCase().replace(/^0+(?=.)/, ''),
    thumbprint: certificateThumbprint(peculiar.rawData),
    spkiSha256: spkiSha256(peculiar.publicKey.rawData),
    notBefore: peculiar.notBefore,
    notAfter: peculiar.notAfter,
    uris,
  };
}

/** hex SHA-256 of a public key's SPKI. */
export function publicKeySpkiSha256(key: PublicKey): string {
  return spkiSha256(key.rawData);
}

/** URI forms that name identities inside certificates. */
export const IdentityUri = {
  device: (id: string) => `urn:carapace:device:${id}`,
  vehicle: (id: string) => `urn:carapace:vehicle:${id}`,
  operator: (name: string) => `urn:carapace:operator:${name}`,
  /** Extracts the id from the first URI of the given kind, or null. */
  parse(uris: string[], kind: 'device' | 'vehicle' | 'operator'): string | null {
    const prefix = `urn:carapace:${kind}:`;
    const hit = uris.find((u) => u.startsWith(prefix));
    return hit ? hit.slice(prefix.length) : null;
  },
};
