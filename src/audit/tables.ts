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

/**
 * One leaf of the RFC 6962 tree: the sealer gives each committed event the next leaf index. Append-only; the
 * signed checkpoints, not this table, are what a verifier trusts, so a rewrite of it is caught like any other.
 */
export interface AuditLeafRow {
  leaf_index: number;
  event_seq: number;
  /** SHA-256(0x00 || canonical event), hex. */
  leaf_hash: string;
}

/** A signed tree head: the root over the first `tree_size` leaves, signed by the audit key. Append-only. */
export interface AuditCheckpointRow {
  tree_size: number;
  root_hash: string;
  signed_at: string;
  /** Thumbprint of the signing key's public half (base64url SHA-256 of its SPKI). */
  key_id: string;
  /** Ed25519 over the checkpoint's canonical JSON, base64url. */
  signature: string;
}

/**
 * One pivot of one event (src/audit/pivots.ts): an index, not evidence. Written with the event in its transaction
 * and append-only; it is outside the Merkle tree, so an investigation re-reads each event it finds from
 * `audit_events`, whose rows the proofs cover.
 */
export interface AuditPivotRow {
  kind: string;
  value: string;
  /** The event's time, copied so that a window is a range of the one index. */
  occurred_at: string;
  event_seq: number;
}

/** Tables owned by the audit module. */
export interface AuditTables {
  audit_events: AuditEventRow;
  audit_leaves: AuditLeafRow;
  audit_checkpoints: AuditCheckpointRow;
  audit_pivots: AuditPivotRow;
}

declare module '../storage/index.js' {
  /** This module's tables, as part of the one database every module shares (each touches only its own). */
  interface Database extends AuditTables {}
}
