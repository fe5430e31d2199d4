import type { AuditLog } from '../audit/index.js';

/**
 * The audit event types the admin plane writes, its part of the audit log's typed union: appending a type not
 * listed here does not type-check.
 */
export const ADMIN_AUDIT_EVENTS = ['admin.request.refused'] as const;
/** An audit event type written by the admin plane. */
export type AdminAuditEvent = (typeof ADMIN_AUDIT_EVENTS)[number];
/** The audit log as the admin plane holds it: it may append only its own event types. */
export type AdminAuditLog = AuditLog<AdminAuditEvent>;
