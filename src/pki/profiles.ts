import type { webcrypto } from 'node:crypto';
import { x509 } from '../platform/index.js';
import type { CertificateProfile } from './tables.js';

/**
 * Certificate policy OID that marks a factory (bootstrap) certificate: good for enrollment only. A UUID OID
 * (X.667, arc 2.25) so it needs no registration.
 */
export const FACTORY_POLICY_OID = '2.25.211440195420925366262553935127296185093';
/** Certificate policy OID for operational device certificates. */
export const OPERATIONAL_POLICY_OID = '2.25.285624446580427040546858017812006291745';

/** What a leaf certificate says about its subject, per profile. */
export type LeafSubject =
  | { profile: 'operational'; deviceId: string; vehicleId: string }
  | { profile: 'factory'; tcuSerial: string }
  | { profile: 'operator'; operatorName: string }
  | { profile: 'server'; hostnames: string[] };

const IP = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-f:]+:[0-9a-f:]*)$/i;

/** Escapes a value for an RFC 4514 distinguished name. */
function dnValue(v: string): string {
  return v.replace(/([,+"\\<>;=#])/g, '\\$1');
}

/** The subject DN and extensions for a leaf of the given profile. */
export async function leafExtensions(
  subject: LeafSubject,
  subjectKey: webcrypto.CryptoKey | x509.PublicKey,
  issuer: x509.X509Certificate,
  crlUrl: string | null,
  crypto: webcrypto.Crypto,
): Promise<{ name: string; extensions: x509.Extension[]; profile: CertificateProfile }> {
  const common: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    await x509.SubjectKeyIdentifierExtension.create(subjectKey, false, crypto),
    await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey, false, crypto),
  ];
  if (crlUrl) common.push(new x509.CRLDistributionPointsExtension([crlUrl]));
  const signing = new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true);
  const client = new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false);
  switch (subject.profile) {
    case 'operational':
      return {
        profile: 'operational',
        name: `CN=${dnValue(subject.deviceId)}, O=Carapace Fleet`,
        extensions: [
          ...common,
          signing,
          client,
          new x509.CertificatePolicyExtension([OPERATIONAL_POLICY_OID]),
          new x509.SubjectAlternativeNameExtension(
            [
              { type: 'url', value: `urn:carapace:device:${subject.deviceId}` },
              { type: 'url', value: `urn:carapace:vehicle:${subject.vehicleId}` },
            ],
            true,
          ),
        ],
      };
    case 'factory':
      return {
        profile: 'factory',
        name: `CN=${dnValue(subject.tcuSerial)}, 2.5.4.5=${dnValue(subject.tcuSerial)}, O=Carapace Development Manufacturer`,
        extensions: [...common, signing, client, new x509.CertificatePolicyExtension([FACTORY_POLICY_OID])],
      };
    case 'operator':
      return {
        profile: 'operator',
        name: `CN=${dnValue(subject.operatorName)}, O=Carapace Operators`,
        extensions: [
          ...common,
          signing,
          client,
          new x509.SubjectAlternativeNameExtension([
            { type: 'url', value: `urn:carapace:operator:${subject.operatorName}` },
          ]),
        ],
      };
    case 'server':
      return {
        profile: 'server',
        name: `CN=${dnValue(subject.hostnames[0] ?? 'localhost')}, O=Carapace Development`,
        extensions: [
          ...common,
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
          new x509.SubjectAlternativeNameExtension(
            subject.hostnames.map((h) => ({ type: IP.test(h) ? 'ip' : 'dns', value: h })),
          ),
        ],
      };
  }
}

/** Extensions of a CA certificate. */
export async function caExtensions(
  publicKey: webcrypto.CryptoKey,
  pathLength: number,
  issuer: x509.PublicKey | webcrypto.CryptoKey,
  crypto: webcrypto.Crypto,
): Promise<x509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(publicKey, false, crypto),
    await x509.AuthorityKeyIdentifierExtension.create(issuer, false, crypto),
  ];
}
