import type { X509Certificate as NodeX509 } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Kysely } from 'kysely';
import { auditIdentity, type Refusal } from '../http/index.js';
import type { ErrorCode } from '../platform/index.js';
import { type Authorities, certificateFacts, findCertificate, findDevice, IdentityUri } from '../pki/index.js';
import type { Database } from '../storage/index.js';

/** What every accepted certificate carries, whatever its kind. */
interface Presented {
  serial: string;
  thumbprint: string;
  spkiSha256: string;
  /** Validity in epoch ms, checked again on every request: a connection or a resumed session may outlive it. */
  notBefore: number;
  notAfter: number;
}

/** A client certificate the gateway accepted at the connection level. */
export type PresentedCertificate =
  | (Presented & { kind: 'factory'; tcuSerial: string })
  | (Presented & { kind: 'operational'; deviceId: string; vehicleId: string; firstUse: boolean });

/** Why a client certificate was refused before any route ran. */
export type CertificateRefusal = Refusal & { kind: 'refused' };

function refusal(code: ErrorCode, reason: string, detail: string, cert?: NodeX509): CertificateRefusal {
  return { kind: 'refused', code, reason, detail, ...auditIdentity(cert) };
}

/** Node/OpenSSL verification errors mapped to our codes and reasons. */
function verificationRefusal(error: string, cert: NodeX509): CertificateRefusal {
  switch (error) {
    case 'CERT_HAS_EXPIRED':
      return refusal('ERR_CLIENT_CERT_EXPIRED', 'certificate_expired', 'the client certificate has expired', cert);
    case 'CERT_NOT_YET_VALID':
      return refusal(
        'ERR_CLIENT_CERT_NOT_YET_VALID',
        'certificate_not_yet_valid',
        'the client certificate is not valid yet',
        cert,
      );
    case 'INVALID_PURPOSE':
      return refusal(
        'ERR_CLIENT_CERT_UNTRUSTED',
        'invalid_purpose',
        'the client certificate is not valid for client authentication',
        cert,
      );
    default:
      return refusal(
        'ERR_CLIENT_CERT_UNTRUSTED',
        `untrusted_${error
          .toLowerCase()
          .replace(/[^a-z0-9_]/g, '_')
          .slice(0, 60)}`,
        'the client certificate is not issued by a CA this gateway trusts',
        cert,
      );
  }
}

function issuedBy(cert: NodeX509, ca: NodeX509): boolean {
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

/** The TCU serial of a factory certificate: its subject serialNumber, or its CN when absent. */
function tcuSerialOf(cert: NodeX509): string | null {
  const lines = cert.subject.split('\n');
  const pick = (attr: string) => lines.find((l) => l.startsWith(`${attr}=`))?.slice(attr.length + 1) ?? null;
  return pick('serialNumber') ?? pick('CN');
}

type Parsed =
  | { kind: 'factory'; base: Presented; tcuSerial: string }
  | { kind: 'fleet'; base: Presented; deviceId: string | null }
  | CertificateRefusal;

/** Everything that reads the certificate itself. Pure: no I/O, and any exception means "unreadable". */
function parse(cert: NodeX509, authorities: Authorities): Parsed {
  const facts = certificateFacts(cert);
  const base = {
    serial: facts.serial,
    thumbprint: facts.thumbprint,
    spkiSha256: facts.spkiSha256,
    notBefore: facts.notBefore.getTime(),
    notAfter: facts.notAfter.getTime(),
  };
  if (issuedBy(cert, authorities.manufacturer.node)) {
    const tcuSerial = tcuSerialOf(cert);
    if (!tcuSerial)
      return refusal(
        'ERR_CLIENT_CERT_UNTRUSTED',
        'factory_certificate_without_serial',
        'the factory certificate names no TCU serial',
        cert,
      );
    return { kind: 'factory', base, tcuSerial };
  }
  if (!issuedBy(cert, authorities.fleet.node)) {
    return refusal(
      'ERR_CLIENT_CERT_UNTRUSTED',
      'wrong_issuer',
      'the client certificate is not a device certificate',
      cert,
    );
  }
  return { kind: 'fleet', base, deviceId: IdentityUri.parse(facts.uris, 'device') };
}

/**
 * Classifies the certificate of a TLS connection, once per connection: a factory certificate from the
 * manufacturer CA, an operational certificate from the fleet CA that we issued and recorded, or a refusal.
 * A certificate OpenSSL accepted but that cannot be read is a refusal, never an exception. Database errors
 * propagate, so the caller answers 500 and retries the lookup on the next request.
 */
export async function classifyConnection(
  socket: TLSSocket,
  deps: { authorities: Authorities; db: Kysely<Database> },
): Promise<PresentedCertificate | CertificateRefusal> {
  const cert = socket.getPeerX509Certificate();
  if (!cert)
    return refusal(
      'ERR_CLIENT_CERT_REQUIRED',
      'no_client_certificate',
      'the vehicle gateway requires a client certificate',
    );
  if (!socket.authorized) return verificationRefusal(String(socket.authorizationError ?? 'UNKNOWN'), cert);
  let parsed: Parsed;
  try {
    parsed = parse(cert, deps.authorities);
  } catch {
    return refusal(
      'ERR_CLIENT_CERT_UNTRUSTED',
      'unreadable_certificate',
      'the client certificate cannot be read',
      cert,
    );
  }
  if (parsed.kind !== 'fleet')
    return parsed.kind === 'factory' ? { kind: 'factory', ...parsed.base, tcuSerial: parsed.tcuSerial } : parsed;
  // Signed by the fleet CA is necessary, not sufficient: it must be a certificate we issued and recorded,
  // byte for byte, for the one device its SAN names.
  const { base, deviceId } = parsed;
  const row = await findCertificate(deps.db, base.serial);
  if (
    !row ||
    row.thumbprint !== base.thumbprint ||
    row.profile !== 'operational' ||
    !deviceId ||
    row.device_id !== deviceId
  ) {
    return refusal(
      'ERR_CLIENT_CERT_UNTRUSTED',
      'unknown_certificate',
      'the client certificate was not issued to a device by this platform',
      cert,
    );
  }
  const device = await findDevice(deps.db, deviceId);
  if (!device)
    return refusal(
      'ERR_CLIENT_CERT_UNTRUSTED',
      'unknown_device',
      'the device of this certificate is not registered',
      cert,
    );
  return { kind: 'operational', ...base, deviceId, vehicleId: device.vehicle_id, firstUse: row.first_used_at === null };
}
