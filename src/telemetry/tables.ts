/** How the gateway judged one message. Only accepted and rejected messages are stored; duplicates are not. */
export type StoredVerdict = 'accepted' | 'rejected';

/**
 * One received message with its provenance. Append-only (triggers refuse UPDATE and DELETE): the raw
 * signed bytes, who presented them (certificate serial and thumbprint), when, and what was decided.
 */
export interface TelemetryMessageRow {
  id: string;
  batch_id: string;
  /** The authenticated device and its vehicle (from the certificate), not the ids the message claims. */
  device_id: string;
  vehicle_id: string;
  /** Fields read from the message; null when it could not be parsed. */
  seq: number | null;
  boot_id: string | null;
  message_ts: string | null;
  kind: string | null;
  sw_version: string | null;
  config_id: string | null;
  cert_serial: string;
  cert_thumbprint: string;
  received_at: string;
  verdict: StoredVerdict;
  reason: string | null;
  /** Comma-separated flags of an accepted message: sequence_jump, position_jump, backfill. */
  flags: string;
  backfill: number;
  /** Exactly the bytes the device signed (its canonical JSON), and its base64url signature. */
  signed_bytes: Uint8Array;
  signature: string;
}

/** Per-device ingestion state: the anti-replay window and the quarantine strike count. */
export interface TelemetryDeviceRow {
  device_id: string;
  window_top: number;
  /** The window bitmap (base64), see ReplayWindow. */
  window_bitmap: string | null;
  strikes: number;
  strikes_since: string | null;
  /** Incremented on every update: a conditional update on it makes concurrent ingestion safe. */
  version: number;
  updated_at: string;
}

/**
 * The last known state of a vehicle, from accepted messages only, each field with the time of the message
 * it came from. A field never moves backwards in time. The commands module reads it for safety checks.
 */
export interface VehicleStateRow {
  vehicle_id: string;
  speed_kmh: number | null;
  speed_at: string | null;
  gear: string | null;
  gear_at: string | null;
  locked: number | null;
  open_doors: string | null;
  doors_at: string | null;
  latitude: number | null;
  longitude: number | null;
  position_at: string | null;
  charging: number | null;
  plugged: number | null;
  soc_percent: number | null;
  battery_at: string | null;
  odometer_km: number | null;
  odometer_at: string | null;
  diagnostic_codes: string | null;
  diagnostics_at: string | null;
  updated_at: string;
}

/** A quarantine imposed by telemetry (repeated bad signatures or identity mismatches) and its release. */
export interface TelemetryQuarantineRow {
  id: string;
  device_id: string;
  vehicle_id: string;
  quarantined_at: string;
  reason: string;
  strikes: number;
  released_at: string | null;
  released_by: string | null;
  release_reason: string | null;
}

/** Tables owned by the telemetry module. */
export interface TelemetryTables {
  telemetry_messages: TelemetryMessageRow;
  telemetry_devices: TelemetryDeviceRow;
  vehicle_state: VehicleStateRow;
  telemetry_quarantines: TelemetryQuarantineRow;
}

declare module '../storage/index.js' {
  /** This module's tables, as part of the one database every module shares (each touches only its own). */
  interface Database extends TelemetryTables {}
}
