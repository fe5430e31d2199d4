import type { AuditLog } from '../audit/index.js';

/**
 * The audit event types the identity module writes, its part of the audit log's typed union: appending a type
 * not listed here does not type-check.
 */
export const IDENTITY_AUDIT_EVENTS = [
  'identity.application.registered',
  'identity.federation.linked',
  'identity.invitation.created',
  'identity.invitation.refused',
  'identity.membership.granted',
  'identity.tenant.created',
  'identity.user.created',
  'identity.user.mfa_enrolled',
  'identity.user.mfa_reset',
  'identity.user.password_check_failed',
  'identity.user.password_changed',
  'identity.user.sessions_ended',
  'identity.workload.registered',
] as const;
/** An audit event type written by the identity module. */
export type IdentityAuditEvent = (typeof IDENTITY_AUDIT_EVENTS)[number];
/** The audit log as the identity module holds it: it may append only its own event types. */
export type IdentityAuditLog = AuditLog<IdentityAuditEvent>;
