import type { AuditLog } from '../audit/index.js';

/**
 * The audit event types the auth module (authorization server, token checks) writes, its part of the audit log's
 * typed union: appending a type not listed here does not type-check.
 */
export const AUTH_AUDIT_EVENTS = [
  'auth.client.suspended',
  'auth.consent.granted',
  'auth.federation.accepted',
  'auth.federation.refused',
  'auth.login.failed',
  'auth.login.succeeded',
  'auth.request.refused',
  'auth.signing_key.rotated',
  'auth.token.issued',
  'auth.token.refused',
  'auth.token.revoked',
] as const;
/** An audit event type written by the auth module (authorization server, token checks). */
export type AuthAuditEvent = (typeof AUTH_AUDIT_EVENTS)[number];
/** The audit log as the auth module holds it: it may append only its own event types. */
export type AuthAuditLog = AuditLog<AuthAuditEvent>;
