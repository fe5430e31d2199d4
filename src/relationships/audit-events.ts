import type { AuditLog } from '../audit/index.js';

/**
 * The audit event types the relationships module writes, its part of the audit log's typed union: appending a
 * type not listed here does not type-check.
 */
export const RELATIONSHIPS_AUDIT_EVENTS = [
  'relationships.claim.locked',
  'relationships.claim.refused',
  'relationships.case.recorded',
  'relationships.claim_code.issued',
  'relationships.delegation.invite_withdrawn',
  'relationships.delegation.invited',
  'relationships.ended',
  'relationships.fleet.assign_member',
  'relationships.fleet.assign_vehicle',
  'relationships.fleet.create_group',
  'relationships.fleet.unassign_member',
  'relationships.fleet.unassign_vehicle',
  'relationships.granted',
  'relationships.service_case.closed',
  'relationships.service_case.limited',
  'relationships.service_case.requested',
  'relationships.support_case.approval_ended',
  'relationships.support_case.closed',
  'relationships.support_case.command_approved',
  'relationships.support_case.opened',
  'relationships.vehicle.claimed',
  'relationships.vehicle.transferred',
] as const;
/** An audit event type written by the relationships module. */
export type RelationshipAuditEvent = (typeof RELATIONSHIPS_AUDIT_EVENTS)[number];
/** The audit log as the relationships module holds it: it may append only its own event types. */
export type RelationshipAuditLog = AuditLog<RelationshipAuditEvent>;

/** The fleet-group changes and the audit event each writes. */
export const FLEET_AUDIT_EVENTS = {
  'fleet:create_group': 'relationships.fleet.create_group',
  'fleet:assign_vehicle': 'relationships.fleet.assign_vehicle',
  'fleet:unassign_vehicle': 'relationships.fleet.unassign_vehicle',
  'fleet:assign_member': 'relationships.fleet.assign_member',
  'fleet:unassign_member': 'relationships.fleet.unassign_member',
} as const satisfies Record<string, RelationshipAuditEvent>;
/** A fleet-group change. */
export type FleetChange = keyof typeof FLEET_AUDIT_EVENTS;
