import type { AuditLog } from '../audit/index.js';

/**
 * The audit event types the vehicle gateway writes, its part of the audit log's typed union: appending a type
 * not listed here does not type-check.
 */
export const GATEWAY_AUDIT_EVENTS = [
  'gateway.request.refused',
  'gateway.tls.handshake_failed',
  'gateway.admission.refused',
] as const;
/** An audit event type written by the vehicle gateway. */
export type GatewayAuditEvent = (typeof GATEWAY_AUDIT_EVENTS)[number];
/** The audit log as the vehicle gateway holds it: it may append only its own event types. */
export type GatewayAuditLog = AuditLog<GatewayAuditEvent>;
