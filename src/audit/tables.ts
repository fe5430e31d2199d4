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

/**
 * A perfect subtree of the live tree, stored by the sealer as the leaf completing it is sealed: the RFC 6962 hash
 * over leaves [start_leaf, start_leaf + size), size a power of two of at least 256, start_leaf a multiple of it.
 * Proofs read these instead of every leaf; `verify` checks each against the leaves. Append-only.
 */
export interface AuditNodeRow {
  start_leaf: number;
  size: number;
  hash: string;
}

/**
 * One prune: the leaves below `horizon` (a signed tree size) and their events were removed. Signed by the audit
 * key, so a DBA cannot authorize a deletion of their own. Append-only.
 */
export interface AuditPruneRow {
  horizon: number;
  /** The signed root at `horizon`, which the stored frontier must reproduce. */
  root_hash: string;
  /** The highest `seq` removed, and how many events. */
  max_seq: number;
  events: number;
  pruned_at: string;
  key_id: string;
  /** Ed25519 over the prune's canonical JSON (`pruneBody`), base64url. */
  signature: string;
}

/**
 * A kept interior node of the pruned prefix: the RFC 6962 subtree hash over leaves [start, start + size). These
 * are the frontier of the horizon and the nodes proofs from older checkpoints need (see `retention.ts`).
 */
export interface AuditPrunedNodeRow {
  start_leaf: number;
  size: number;
  hash: string;
}

/** A legal hold: events in a seq range or a time window that pruning must keep. Append-only. */
export interface AuditHoldRow {
  id: string;
  from_seq: number | null;
  to_seq: number | null;
  from_time: string | null;
  to_time: string | null;
  reason: string;
  created_by: string;
  created_at: string;
  /** The audit key's id and Ed25519 signature over `holdBody` (0018; null on a row no hold service wrote). */
  key_id: string | null;
  signature: string | null;
}

/** The release of a hold (a separate append-only row, so the hold itself is never edited). */
export interface AuditHoldReleaseRow {
  hold_id: string;
  reason: string;
  released_by: string;
  released_at: string;
  /** The audit key's id and signature over `releaseBody`: only a signed release lets pruning pass the hold. */
  key_id: string | null;
  signature: string | null;
}

/** Tables owned by the audit module. */
export interface AuditTables {
  audit_events: AuditEventRow;
  audit_leaves: AuditLeafRow;
  audit_checkpoints: AuditCheckpointRow;
  audit_pivots: AuditPivotRow;
  audit_nodes: AuditNodeRow;
  audit_prunes: AuditPruneRow;
  audit_pruned_nodes: AuditPrunedNodeRow;
  audit_holds: AuditHoldRow;
  audit_hold_releases: AuditHoldReleaseRow;
}

declare module '../storage/index.js' {
  /** This module's tables, as part of the one database every module shares (each touches only its own). */
  interface Database extends AuditTables {}
}
