import canonicalize from 'canonicalize';

/** Door names a `doors` payload may list as open. */
export type DoorName = 'front_left' | 'front_right' | 'rear_left' | 'rear_right' | 'trunk' | 'hood' | 'charge_port';

/** What a telemetry message reports: one kind per message. */
export type TelemetryPayload =
  | { kind: 'position'; lat: number; lon: number; altitudeM?: number; headingDeg?: number; accuracyM?: number }
  | { kind: 'speed'; kmh: number }
  | { kind: 'odometer'; km: number }
  | { kind: 'battery'; socPercent: number; charging: boolean; plugged: boolean; rangeKm?: number }
  | { kind: 'doors'; locked: boolean; open: DoorName[] }
  | { kind: 'gear'; gear: 'P' | 'R' | 'N' | 'D' }
  | { kind: 'diagnostics'; codes: Array<{ code: string; status: 'active' | 'pending' | 'cleared' }> };

/**
 * One telemetry message as signed by the device. `seq` is monotonic per device across boots (the SDK
 * persists it); `bootId` is a random id per boot, kept for provenance; `ts` is epoch milliseconds.
 */
export interface TelemetryMessage {
  deviceId: string;
  vehicleId: string;
  bootId: string;
  seq: number;
  ts: number;
  swVersion: string;
  configId: string;
  payload: TelemetryPayload;
}

/** A message on the wire: its RFC 8785 canonical JSON text and the device's signature over its UTF-8 bytes. */
export interface SignedTelemetry {
  /** The canonical JSON text, exactly the bytes that were signed. */
  signed: string;
  /** base64url signature: Ed25519, or ECDSA P-256 with SHA-256 as r||s (IEEE P1363, 64 bytes). */
  sig: string;
}

/** The RFC 8785 canonical JSON text of a message: what the device signs and the gateway verifies. */
export function canonicalMessage(message: TelemetryMessage): string {
  const text = canonicalize(message);
  if (text === undefined) throw new Error('a telemetry message must be a JSON object');
  return text;
}
