import { createHash, X509Certificate as NodeX509 } from 'node:crypto';
import { type X509Certificate } from '../platform/index.js';
import { keyObjectSpkiSha256 } from './public-key.js';

/** The RFC 8705 `x5t#S256` value: base64url SHA-256 of the DER certificate. */
export function certificateThumbprint(der: ArrayBuffer | Uint8Array): string {
  return createHash('sha256').update(new Uint8Array(der)).digest('base64url');
}

/** Facts about a certificate that we store and audit (never the key). */
export interface CertificateFacts {
  serial: string;
  thumbprint: string;
  /** SHA-256 of the public key in canonical SPKI form, to recognise the same key in any encoding. */
  spkiSha256: string;
  notBefore: Date;
  notAfter: Date;
  /** SAN URIs, e.g. urn:carapace:device:<id>. */
  uris: string[];
}

/**
 * Reads the facts of a certificate with OpenSSL's parser only. Peer certificates reach this straight from a
 * handshake, so it must accept whatever OpenSSL accepted; a stricter second parser here could throw on
 * attacker-shaped input.
 */
export function certificateFacts(cert: NodeX509 | X509Certificate): CertificateFacts {
  const node = cert instanceof NodeX509 ? cert : new NodeX509(Buffer.from(cert.rawData));
  const uris = (node.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
  return {
    serial: node.serialNumber.toUpperCase().replace(/^0+(?=.)/, ''),
    thumbprint: certificateThumbprint(node.raw),
    spkiSha256: keyObjectSpkiSha256(node.publicKey),
    notBefore: new Date(node.validFrom),
    notAfter: new Date(node.validTo),
    uris,
  };
}

/** URI forms that name identities inside certificates. */
export const IdentityUri = {
  device: (id: string) => `urn:carapace:device:${id}`,
  vehicle: (id: string) => `urn:carapace:vehicle:${id}`,
  operator: (name: string) => `urn:carapace:operator:${name}`,
  /** Extracts the id from the URI of the given kind, or null when there is none or more than one. */
  parse(uris: string[], kind: 'device' | 'vehicle' | 'operator'): string | null {
    const prefix = `urn:carapace:${kind}:`;
    const hits = uris.filter((u) => u.startsWith(prefix));
    return hits.length === 1 ? (hits[0] as string).slice(prefix.length) : null;
  },
};
