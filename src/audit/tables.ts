import type { Generated } from 'kysely';

/** Row of the append-only audit log (DESIGN rule 9). */
export interface AuditEventRow {
  /** Insertion order, assigned by the database; the hash chain of the tamper-evidence work follows it. */
  seq: Generated<number>;
  id: string;
  occurred_at: string;
  type: string;
  actor_type: string;
  actor_id: string | null;
  application_id: string | null;
  tenant_id: string | null;
  object_type: string | null;
  object_id: string | null;
  action: string;
  decision: string;
  reason: string | null;
  policy_version: string | null;
  request_id: string | null;
  trace_id: string | null;
  source_ip: string | null;
  /** JSON object of event-specific fields, never secrets. */
  details: string;
  /** Reserved for the hash chain (tamper evidence): previous event hash and this event's hash. */
  prev_hash: string | null;
  hash: string | null;
}

/** Tables owned by the audit module. */
export interface AuditTables {
  audit_events: AuditEventRow;
}

declare module '../storage/index.js' {
  /** This module's tables, as part of the one database every module shares (each touches only its own). */
  interface Database extends AuditTables {}
}
