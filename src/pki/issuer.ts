import type { webcrypto } from 'node:crypto';
import { x509 } from '../platform/index.js';
import type { Kysely } from 'kysely';
import { CarapaceError } from '../platform/index.js';
import { newCertificateSerial } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { Authorities, CertificateAuthority } from './authorities.js';
import { certificateFacts, type CertificateFacts } from './fingerprints.js';
import { CA_KEY_ALGORITHM, type KeyProvider } from './key-provider.js';
import { type LeafSubject, leafExtensions } from './profiles.js';
import type { CaRole, CertificateProfile } from './tables.js';

/** A leaf certificate to issue. */
export interface LeafRequest {
  subject: LeafSubject;
  publicKey: x509.PublicKey | webcrypto.CryptoKey;
  notBefore: Date;
  notAfter: Date;
  deviceId?: string | null;
  predecessorSerial?: string | null;
}

/** An issued certificate: its PEM and the facts we store. */
export interface IssuedCertificate {
  pem: string;
  facts: CertificateFacts;
  issuer: CaRole;
  profile: CertificateProfile;
}

/** Which CA signs each profile. The fleet CA signs only device certificates. */
export const ISSUER_OF: Record<CertificateProfile, CaRole> = {
  operational: 'fleet',
  factory: 'manufacturer',
  operator: 'root',
  server: 'root',
};

/** Signs leaf certificates and records each one, in the caller's transaction, in `certificates`. */
export interface CertificateIssuer {
  issue(trx: Kysely<Database>, request: LeafRequest, issuedAt: Date): Promise<IssuedCertificate>;
}

/** Creates the issuer over the CA set. */
export function createCertificateIssuer(deps: {
  authorities: Authorities;
  keys: KeyProvider;
  publicBaseUrl: string;
}): CertificateIssuer {
  const crlUrl = (role: CaRole) => `${deps.publicBaseUrl.replace(/\/$/, '')}/pki/crl/${role}.crl`;
  return {
    async issue(trx, request, issuedAt) {
      const role = ISSUER_OF[request.subject.profile];
      const ca: CertificateAuthority = deps.authorities[role];
      if (!ca.signingKey) {
        throw new CarapaceError('ERR_PKI_CA_MISSING', `the ${role} CA private key is not held by this deployment`, {
          role,
        });
      }
      const notAfter = request.notAfter < ca.certificate.notAfter ? request.notAfter : ca.certificate.notAfter;
      const { name, extensions, profile } = await leafExtensions(
        request.subject,
        request.publicKey,
        ca.certificate,
        crlUrl(role),
        deps.keys.crypto,
      );
      const cert = await x509.X509CertificateGenerator.create(
        {
          serialNumber: newCertificateSerial(),
          subject: name,
          issuer: ca.certificate.subject,
          notBefore: request.notBefore,
          notAfter,
          publicKey: request.publicKey,
          signingKey: ca.signingKey,
          signingAlgorithm: CA_KEY_ALGORITHM,
          extensions,
        },
        deps.keys.crypto,
      );
      const pem = cert.toString('pem');
      const facts = certificateFacts(cert);
      const subjectText =
        request.subject.profile === 'factory'
          ? request.subject.tcuSerial
          : request.subject.profile === 'operator'
            ? request.subject.operatorName
            : request.subject.profile === 'operational'
              ? request.subject.deviceId
              : request.subject.hostnames.join(',');
      await trx
        .insertInto('certificates')
        .values({
          serial: facts.serial,
          issuer: role,
          profile,
          device_id: request.deviceId ?? null,
          subject: subjectText,
          thumbprint: facts.thumbprint,
          spki_sha256: facts.spkiSha256,
          not_before: facts.notBefore.toISOString(),
          not_after: facts.notAfter.toISOString(),
          status: 'active',
          issued_at: issuedAt.toISOString(),
          predecessor_serial: request.predecessorSerial ?? null,
          overlap_until: null,
          first_used_at: null,
          superseded_at: null,
          revoked_at: null,
          revocation_reason: null,
          pem,
        })
        .execute();
      return { pem, facts, issuer: role, profile };
    },
  };
}
