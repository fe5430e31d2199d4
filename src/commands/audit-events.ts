import type { AuditLog } from '../audit/index.js';

/**
 * The audit event types the commands module writes, its part of the audit log's typed union: appending a type
 * not listed here does not type-check.
 */
export const COMMANDS_AUDIT_EVENTS = [
  'commands.ack.refused',
  'commands.channel.closed',
  'commands.channel.duplicate',
  'commands.channel.opened',
  'commands.delivery.refused',
  'commands.job.requested',
  'commands.job.transitioned',
  'commands.key.created',
  'commands.key.rotated',
  'commands.key.withdrawn',
] as const;
/** An audit event type written by the commands module. */
export type CommandAuditEvent = (typeof COMMANDS_AUDIT_EVENTS)[number];
/** The audit log as the commands module holds it: it may append only its own event types. */
export type CommandAuditLog = AuditLog<CommandAuditEvent>;
