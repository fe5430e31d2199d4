import type { AuditLog } from '../audit/index.js';

/**
 * The audit event types the detection module writes, its part of the audit log's typed union. Rules never read
 * these unless a rule names a `detect.` type (a meta-rule), and meta-rules never read a meta-rule's findings.
 */
export const DETECT_AUDIT_EVENTS = [
  'detect.finding.raised',
  'detect.finding.updated',
  'detect.finding.resolved',
  'detect.finding.suppressed',
] as const;
/** An audit event type written by the detection module. */
export type DetectAuditEvent = (typeof DETECT_AUDIT_EVENTS)[number];
/** The audit log as the detection module holds it. */
export type DetectAuditLog = AuditLog<DetectAuditEvent>;
