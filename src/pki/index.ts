export { createPki, type Pki, type PkiOptions } from './pki.js';
export type { PkiContext, PkiSettings, CommandVerificationKey, VehicleRegistry } from './context.js';
export type { CertificateBundle, PresentedFactoryCertificate, PresentedOperationalCertificate } from './enrollment.js';
export type { Authorities, CertificateAuthority } from './authorities.js';
export { importAuthority, loadAuthorities } from './authorities.js';
export { createFileKeyProvider, type KeyProvider, type ProviderKeyAlgorithm } from './key-provider.js';
export { certificateFacts, certificateThumbprint, IdentityUri, type CertificateFacts } from './fingerprints.js';
export { FACTORY_POLICY_OID, OPERATIONAL_POLICY_OID } from './profiles.js';
export { parseRevocationReason } from './revocation.js';
export {
  DEVICE_TRANSITIONS,
  REVOCATION_REASONS,
  getDevice,
  transitionDevice,
  type RevocationReason,
} from './devices.js';
export type { RevocationCache, CredentialChange, CertificateState } from './revocation-cache.js';
export type { VehicleBinding, IssuedWithKey } from './provisioning.js';
export { pkiMigrations } from './migrations.js';
export type { DeviceRow, DeviceStatus, CertificateRow, CaRole, CertificateProfile, PkiTables } from './tables.js';
export { registerCrlRoutes } from './crl-routes.js';
export { MAX_CSR_BYTES } from './csr.js';
export { CA_KEY_ALGORITHM } from './key-provider.js';
export {
  activeCertificateIssues,
  activeDeviceIds,
  certificatesOf,
  currentDeviceOf,
  currentDevices,
  devicesBySerial,
  devicesOfVehicle,
  deviceStatuses,
  earlierOperationalCertificates,
  findCertificate,
  findCertificateByThumbprint,
  findDevice,
} from './reads.js';
export { PKI_AUDIT_EVENTS, type PkiAuditEvent, type PkiAuditLog } from './audit-events.js';
