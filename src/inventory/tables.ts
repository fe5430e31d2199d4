/**
 * Calls of deprecated API versions, per route, version, client application and vehicle: who still calls what, and
 * when last. Counted in memory and added here in batches (one upsert per key per flush), never a write per request.
 */
export interface ApiVersionUsageRow {
  /** `GET /v1/vehicles/:vehicleId/status`. */
  route: string;
  version: string;
  client_id: string;
  /** The vehicle the call was authorized for; '' for calls with no authorized vehicle. */
  vehicle_id: string;
  calls: number;
  first_at: string;
  last_at: string;
}

/**
 * One governance number at one snapshot (`inventory.governanceSnapshotInterval`): what the overview's charts draw.
 * Only numbers with data are kept (a null "no data yet" leaves a gap), for `inventory.governanceSnapshotRetention`.
 */
export interface GovernanceSnapshotRow {
  at: string;
  measure: string;
  name: string;
  /** The metric's labels as JSON with sorted keys (`{}` for none). */
  labels: string;
  value: number;
}

/** Tables owned by the inventory module. */
export interface InventoryTables {
  api_version_usage: ApiVersionUsageRow;
  governance_snapshots: GovernanceSnapshotRow;
}

declare module '../storage/index.js' {
  /** This module's tables, as part of the one database every module shares (each touches only its own). */
  interface Database extends InventoryTables {}
}
