export type { AuditEvent, ActorType, Decision, RequestContext, DetailValue, StoredAuditEvent } from './event.js';
export { createAuditLog, type AuditLog, type AuditQuery } from './store.js';
export { AuditSecretError, REDACTED, redactSecrets, untrusted } from './secret-guard.js';
export { auditMigrations } from './migrations.js';
export type { AuditTables, AuditEventRow } from './tables.js';
