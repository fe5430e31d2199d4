import type { AuditLog } from '../audit/index.js';

/**
 * The audit event types the console module writes: an authorization-matrix run started from the console (who, on
 * which configured target) and its end (exit code, whether a report was written).
 */
export const CONSOLE_AUDIT_EVENTS = ['console.matrix_run.started', 'console.matrix_run.finished'] as const;
/** An audit event type written by the console module. */
export type ConsoleAuditEvent = (typeof CONSOLE_AUDIT_EVENTS)[number];
/** The audit log as the console module holds it. */
export type ConsoleAuditLog = AuditLog<ConsoleAuditEvent>;
