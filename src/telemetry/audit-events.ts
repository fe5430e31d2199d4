import type { AuditLog } from '../audit/index.js';
import type { PkiAuditEvent } from '../pki/index.js';

/**
 * The audit event types the telemetry module writes, its part of the audit log's typed union: appending a type
 * not listed here does not type-check.
 */
export const TELEMETRY_AUDIT_EVENTS = [
  'telemetry.alert',
  'telemetry.batch.refused',
  'telemetry.batch.rejected',
  'telemetry.device.quarantined',
  'telemetry.quarantine.release_refused',
  'telemetry.quarantine.released',
  'telemetry.vehicle.state_changed',
  'telemetry.volume.device',
  'telemetry.volume.summary',
] as const;
/** An audit event type written by the telemetry module. */
export type TelemetryAuditEvent = (typeof TELEMETRY_AUDIT_EVENTS)[number];
/**
 * The audit log as the telemetry module holds it: its own event types, and the PKI's, because a quarantine
 * moves the device through the PKI's `transitionDevice` in the same transaction, which writes its own event.
 */
export type TelemetryAuditLog = AuditLog<TelemetryAuditEvent | PkiAuditEvent>;
