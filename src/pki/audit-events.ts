import type { AuditLog } from '../audit/index.js';

/**
 * The audit event types the PKI writes, its part of the audit log's typed union: appending a type not listed
 * here does not type-check.
 */
export const PKI_AUDIT_EVENTS = [
  'pki.ca.generated',
  'pki.ca.imported',
  'pki.certificate.revoked',
  'pki.certificate.rotated',
  'pki.certificate.superseded',
  'pki.device.enrolled',
  'pki.device.provisioned',
  'pki.device.replaced',
  'pki.device.transition_refused',
  'pki.device.transitioned',
  'pki.enrollment.refused',
  'pki.factory_cert.issued',
  'pki.operational_cert.issued',
  'pki.operator_cert.issued',
  'pki.rotation.refused',
  'pki.server_cert.issued',
] as const;
/** An audit event type written by the PKI. */
export type PkiAuditEvent = (typeof PKI_AUDIT_EVENTS)[number];
/** The audit log as the PKI holds it: it may append only its own event types. */
export type PkiAuditLog = AuditLog<PkiAuditEvent>;
