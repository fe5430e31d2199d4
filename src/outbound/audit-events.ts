import type { AuditLog } from '../audit/index.js';

/**
 * The audit event types the outbound layer writes, its part of the audit log's typed union: a refused destination,
 * and an endpoint's circuit breaker opening and closing again.
 */
export const OUTBOUND_AUDIT_EVENTS = [
  'outbound.blocked',
  'outbound.breaker.opened',
  'outbound.breaker.closed',
] as const;
/** An audit event type written by the outbound layer. */
export type OutboundAuditEvent = (typeof OUTBOUND_AUDIT_EVENTS)[number];
/** The audit log as the outbound layer holds it: it may append only its own event types. */
export type OutboundAuditLog = AuditLog<OutboundAuditEvent>;
