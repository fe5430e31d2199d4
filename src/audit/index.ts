export type { AuditEvent, ActorType, Decision, RequestContext, DetailValue, StoredAuditEvent } from './event.js';
export { createAuditLog, type AuditLog, type AuditQuery } from './store.js';
export { AuditSecretError, REDACTED, redactSecrets, untrusted } from './secret-guard.js';
export { auditMigrations } from './migrations.js';
export type { AuditTables, AuditEventRow } from './tables.js';
export { createAuditEvidence, type AuditEvidence, type AuditEvidenceSettings } from './evidence.js';
export type { AuditSealer } from './sealer.js';
export type { AuditProofs, ConsistencyProof, InclusionProof } from './proofs.js';
export { type Checkpoint, checkpointBody, readCheckpointFile, type ExportedLine } from './checkpoint.js';
export { AUDIT_KEY_REF, type AuditKeyHolder, trustedAuditKeys } from './signing-key.js';
export { verifyAuditTrail, type VerifyFinding, type VerifyReport } from './verify.js';
export {
  AUDIT_PIVOTS,
  type AuditPivot,
  type AuditPivotSearch,
  createAuditPivotSearch,
  type PivotQuery,
} from './pivot-search.js';
export { pivotsOf } from './pivots.js';
export { type AuditTailPage, tailAuditEvents } from './tail.js';
export { AUDIT_AUDIT_EVENTS, type AuditAuditEvent } from './audit-events.js';
export type { AuditHolds, HoldRange, LegalHold } from './holds.js';
export type { AuditRetention, PruneResult } from './retention.js';
export {
  countFlaggedDenials,
  latestAuditSeq,
  readAuditEventsAfter,
  readAuditEventsBefore,
  readAuditEventsByIds,
  readAuditEventsBySeqs,
} from './reader.js';
export { auditActivity, type AuditActivity } from './activity.js';
