import type { AuditLog } from './store.js';

/**
 * The audit event types the audit module writes about its own trail (retention and legal holds), its part of the
 * platform's typed union.
 */
export const AUDIT_AUDIT_EVENTS = ['audit.retention.pruned', 'audit.hold.added', 'audit.hold.released'] as const;
/** An audit event type written by the audit module. */
export type AuditAuditEvent = (typeof AUDIT_AUDIT_EVENTS)[number];
/** The audit log as the audit module holds it. */
export type AuditAuditLog = AuditLog<AuditAuditEvent>;
