/** A finding: the grouped hits of one rule on one group key (see `Finding` in types.ts). */
export interface DetectFindingRow {
  id: string;
  rule_id: string;
  rule_version: number;
  title: string;
  severity: string;
  tenant_id: string | null;
  group_key: string;
  status: string;
  /** JSON FindingAssets. */
  assets: string;
  truncated: number;
  first_seen: string;
  last_seen: string;
  count: number;
  /** How many evidence rows the finding holds (at most EVIDENCE_LIMIT). */
  evidence_count: number;
  summary: string;
  /** 1 when raised by a meta-rule (one that reads findings): meta-rules never read those. */
  meta: number;
  incident_id: string | null;
  status_reason: string | null;
  status_by: string | null;
  status_at: string | null;
}

/** One evidence event of a finding; unique per (finding, event), so a re-evaluated event adds nothing. */
export interface DetectFindingEventRow {
  finding_id: string;
  event_id: string;
  event_seq: number;
}

/**
 * The engine's durable cursor: every event up to `high` was evaluated, except the `gaps` (seqs above the low
 * watermark not yet committed when read, JSON `[seq, firstMissedMs][]`). Committed with the findings of the same
 * round, compare-and-set on `version`, so a node that lost its lease can not commit.
 */
export interface DetectCursorRow {
  name: string;
  high: number;
  gaps: string;
  version: number;
  node: string;
  updated_at: string;
}

/** Tables owned by the detection module. */
export interface DetectTables {
  detect_findings: DetectFindingRow;
  detect_finding_events: DetectFindingEventRow;
  detect_cursor: DetectCursorRow;
}

declare module '../storage/index.js' {
  /** This module's tables, as part of the one database every module shares (each touches only its own). */
  interface Database extends DetectTables {}
}
