/**
 * The detection module's contracts: rules as data (files under `detections/`), the events they read, the
 * findings they raise. Incidents, the SIEM mapping and the console read findings through these types only.
 */

/** How bad a finding is; incidents open automatically at or above a configured severity. */
export type Severity = 'low' | 'medium' | 'high' | 'critical';

/** Severities from least to most severe, for comparisons. */
export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

/** The assets a finding names; each list is sorted and deduplicated, and bounded (ASSET_LIMIT per kind). */
export interface FindingAssets {
  vehicles: string[];
  devices: string[];
  users: string[];
  clients: string[];
  tenants: string[];
  /** Certificate serials (a device credential compromise is contained by serial and thumbprint). */
  serials: string[];
  thumbprints: string[];
  /** Source networks (a /24 or /64, as `net(...)` renders them). */
  networks: string[];
}

/** The asset kinds a rule can name. */
export type AssetKind = keyof FindingAssets;

/** At most this many of each asset kind are kept on a finding; `truncated` says when more were seen. */
export const ASSET_LIMIT = 1000;

/** A finding's lifecycle: open while it repeats, resolved or suppressed by an operator (or by its incident). */
export type FindingStatus = 'open' | 'resolved' | 'suppressed';

/**
 * One finding: the grouped hits of one rule on one group key. A repeat within the rule's regroup window updates
 * `lastSeen`, `count`, the assets and the evidence of the same finding instead of raising a new one.
 */
export interface Finding {
  id: string;
  ruleId: string;
  ruleVersion: number;
  title: string;
  severity: Severity;
  /** The tenant the hits belong to (null for a deployment-wide finding, e.g. handshake failures). */
  tenantId: string | null;
  /** What repeats are grouped by, e.g. `user:<id>` or `tenant:<id>`; stable for one rule. */
  groupKey: string;
  status: FindingStatus;
  assets: FindingAssets;
  /** True when an asset list hit ASSET_LIMIT. */
  truncated: boolean;
  firstSeen: string;
  lastSeen: string;
  /** How many times the rule fired for this group (not how many events it read). */
  count: number;
  /** The audit event ids that made the rule fire, oldest first (the first EVIDENCE_LIMIT are kept). */
  evidence: string[];
  /** A one-line account of the last hit, from the rule (`because`), e.g. "7 distinct VINs in 60 s". */
  summary: string;
  incidentId: string | null;
}

/** At most this many evidence event ids are kept on one finding. */
export const EVIDENCE_LIMIT = 200;
