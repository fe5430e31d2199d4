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

/** Tables owned by the inventory module. */
export interface InventoryTables {
  api_version_usage: ApiVersionUsageRow;
}

declare module '../storage/index.js' {
  /** This module's tables, as part of the one database every module shares (each touches only its own). */
  interface Database extends InventoryTables {}
}
