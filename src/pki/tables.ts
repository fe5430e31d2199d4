import type { Generated } from 'kysely';
/** Device lifecycle states (see devices.ts for the allowed transitions). */
export type DeviceStatus = 'provisioned' | 'active' | 'quarantined' | 'revoked' | 'decommissioned';

/** A telematics unit bound to one vehicle. */
export interface DeviceRow {
  id: string;
  vehicle_id: string;
  /** The TCU serial burned in at manufacturing; the factory certificate's subject serialNumber. */
  factory_serial: string;
  status: DeviceStatus;
  status_reason: string | null;
  created_at: string;
  updated_at: string;
  enrolled_at: string | null;
  /** Replacement chain: the unit this one replaced, and the unit that replaced it. */
  replaces: string | null;
  replaced_by: string | null;
}

/** Which CA issued a certificate. */
export type CaRole = 'root' | 'fleet' | 'manufacturer';
/** What a certificate is for. */
export type CertificateProfile = 'operational' | 'factory' | 'operator' | 'server';
/** Lifecycle of an issued certificate. */
export type CertificateStatus = 'active' | 'superseded' | 'revoked';

/** Every certificate Carapace issued (public material only). */
export interface CertificateRow {
  serial: string;
  issuer: CaRole;
  profile: CertificateProfile;
  device_id: string | null;
  /** TCU serial for factory certificates, operator name for operator certificates, device id otherwise. */
  subject: string;
  /** base64url SHA-256 of the DER certificate: the RFC 8705 `x5t#S256` value. */
  thumbprint: string;
  /** hex SHA-256 of the SubjectPublicKeyInfo, to refuse key reuse across certificates. */
  spki_sha256: string;
  not_before: string;
  not_after: string;
  status: CertificateStatus;
  issued_at: string;
  predecessor_serial: string | null;
  /** Set on a predecessor when its successor is issued: the end of the overlap window. */
  overlap_until: string | null;
  first_used_at: string | null;
  superseded_at: string | null;
  revoked_at: string | null;
  revocation_reason: string | null;
  pem: string;
}

/** A CA certificate and where its key lives (null when only the certificate was imported). */
export interface CertificateAuthorityRow {
  role: CaRole;
  cert_pem: string;
  key_ref: string | null;
  imported: number;
  created_at: string;
}

/**
 * One row per change of a certificate's status or overlap, or of a device's status, written by triggers in the
 * transaction that makes the change: what each process's revocation view reads incrementally by sequence number.
 */
export interface CredentialChangeRow {
  seq: Generated<number>;
  serial: string | null;
  device_id: string | null;
}

/** Tables owned by the PKI module. */
export interface PkiTables {
  credential_changes: CredentialChangeRow;
  devices: DeviceRow;
  certificates: CertificateRow;
  certificate_authorities: CertificateAuthorityRow;
}

declare module '../storage/index.js' {
  /** This module's tables, as part of the one database every module shares (each touches only its own). */
  interface Database extends PkiTables {}
}
