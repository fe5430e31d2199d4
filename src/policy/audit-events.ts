import type { AuditLog } from '../audit/index.js';

/**
 * The audit event types the policy enforcement point writes, its part of the audit log's typed union: appending
 * a type not listed here does not type-check.
 */
export const POLICY_AUDIT_EVENTS = ['authz.decision'] as const;
/** An audit event type written by the policy enforcement point. */
export type PolicyAuditEvent = (typeof POLICY_AUDIT_EVENTS)[number];
/** The audit log as the policy enforcement point holds it: it may append only its own event types. */
export type PolicyAuditLog = AuditLog<PolicyAuditEvent>;
