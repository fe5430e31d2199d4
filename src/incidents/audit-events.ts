import type { AuditLog } from '../audit/index.js';

/**
 * The audit event types the incidents module writes, its part of the audit log's typed union: every timeline row
 * is one of these too, written in the same transaction.
 */
export const INCIDENTS_AUDIT_EVENTS = [
  'incidents.opened',
  'incidents.transitioned',
  'incidents.transition_refused',
  'incidents.owner_changed',
  'incidents.note_added',
  'incidents.finding_attached',
  'incidents.finding_recorded',
  'incidents.scoped',
  'incidents.playbook.run_started',
  'incidents.playbook.run_finished',
  'incidents.playbook.step_awaiting_approval',
  'incidents.playbook.step_approved',
  'incidents.playbook.step_rejected',
  'incidents.playbook.step_approval_refused',
  'incidents.playbook.step_done',
  'incidents.playbook.step_failed',
  'incidents.notification.queued',
] as const;
/** An audit event type written by the incidents module. */
export type IncidentAuditEvent = (typeof INCIDENTS_AUDIT_EVENTS)[number];
/** The audit log as the incidents module holds it. */
export type IncidentAuditLog = AuditLog<IncidentAuditEvent>;
