import type { AuditLog } from '../audit/index.js';

/** The audit event types the operators module writes. */
export const OPERATORS_AUDIT_EVENTS = [
  'operators.operator.added',
  'operators.operator.changed',
  'operators.sign_in.succeeded',
  'operators.sign_in.refused',
  'operators.session.ended',
  'operators.elevation.started',
  'operators.approval.requested',
  'operators.approval.granted',
  'operators.approval.refused',
  'operators.action.denied',
  'operators.action.allowed',
] as const;
/** An audit event type written by the operators module. */
export type OperatorAuditEvent = (typeof OPERATORS_AUDIT_EVENTS)[number];
/** The audit log as the operators module holds it. */
export type OperatorAuditLog = AuditLog<OperatorAuditEvent>;
