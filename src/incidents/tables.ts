/** The incident lifecycle states, in the order an incident normally passes them. */
export type IncidentState = 'open' | 'triaged' | 'contained' | 'recovered' | 'closed';

/** One incident: its state, owner, severity, assets (JSON FindingAssets) and scoping result. */
export interface IncidentRecordRow {
  id: string;
  tenant_id: string | null;
  title: string;
  severity: 'low' | 'medium' | 'high' | 'critical';
  state: IncidentState;
  /** How it was closed: `resolved` or `false_positive` (null until closed). */
  resolution: string | null;
  owner: string | null;
  opened_by: string;
  opened_at: string;
  /** The earliest first-seen of its findings (null when opened from scratch). */
  first_seen: string | null;
  /** The finding group it was opened for; `open_group_key` is the same while not closed (unique), else null. */
  group_key: string | null;
  open_group_key: string | null;
  /** JSON FindingAssets: the union of its findings' assets and what the operator gave. */
  assets: string;
  /** JSON scoping result (affected vehicles with evidence), null until scoped. */
  scope: string | null;
  scope_started_at: string | null;
  scope_done_at: string | null;
  contained_at: string | null;
  closed_at: string | null;
  updated_at: string;
}

/** A finding as the detection engine reported it through the reaction port (the last report wins). */
export interface IncidentFindingRow {
  finding_id: string;
  rule_id: string;
  rule_version: number;
  severity: string;
  tenant_id: string | null;
  group_key: string;
  title: string;
  summary: string;
  first_seen: string;
  last_seen: string;
  count: number;
  /** JSON arrays: evidence audit event ids, and the FindingAssets. */
  evidence: string;
  assets: string;
  incident_id: string | null;
  reported_at: string;
}

/** One step of an incident's timeline; each is also an `incidents.*` audit event. */
export interface IncidentTimelineRow {
  id: string;
  incident_id: string;
  /** Order within the incident (1, 2, …): steps in one millisecond keep the order they were written in. */
  position: number;
  at: string;
  kind: string;
  actor: string;
  summary: string;
  /** JSON object with the step's facts. */
  details: string;
}

/** One run of a playbook on an incident. */
export interface IncidentRunRow {
  id: string;
  incident_id: string;
  playbook_id: string;
  playbook_version: number;
  requested_by: string;
  state: 'running' | 'awaiting_approval' | 'done' | 'failed';
  created_at: string;
  finished_at: string | null;
}

/** One resolved step of a run, with its state and timings (decided, started, effective). */
export interface IncidentStepRow {
  id: string;
  run_id: string;
  incident_id: string;
  position: number;
  step_id: string;
  action: string;
  /** What the step's targets are (vehicle, user, partner, service, key, evidence) for the governance numbers. */
  target_kind: string;
  /** JSON: the resolved targets and parameters. */
  targets: string;
  params: string;
  vehicle_count: number;
  /** 0: runs at once; 1: needs an approval; 2: needs a second operator's (the two-person rule). */
  approval: number;
  state: 'pending' | 'awaiting_approval' | 'running' | 'rejected' | 'done' | 'failed';
  decided_by: string | null;
  decided_at: string | null;
  started_at: string | null;
  effective_at: string | null;
  /** JSON result, or the error text. */
  result: string | null;
  error: string | null;
}

/** A notification waiting for delivery: nothing delivers it yet (webhooks, issue 14). */
export interface IncidentNotificationRow {
  id: string;
  incident_id: string;
  recipient_kind: 'user' | 'tenant' | 'operator';
  recipient_id: string;
  template: string;
  details: string;
  state: 'pending';
  created_at: string;
}

/** Tables owned by the incidents module. */
export interface IncidentTables {
  incident_records: IncidentRecordRow;
  incident_findings: IncidentFindingRow;
  incident_timeline: IncidentTimelineRow;
  incident_runs: IncidentRunRow;
  incident_steps: IncidentStepRow;
  incident_notifications: IncidentNotificationRow;
}

declare module '../storage/index.js' {
  /** This module's tables, as part of the one database every module shares (each touches only its own). */
  interface Database extends IncidentTables {}
}
