/**
 * The telemetry-message contract as the SDK exposes it. Declared once in src/wire/, whose schemas the
 * gateway validates every message with, so what the SDK builds is what the gateway accepts.
 */
export {
  canonicalMessage,
  type DoorName,
  type SignedTelemetry,
  type TelemetryMessage,
  TelemetryMessageSchema,
  type TelemetryPayload,
  validateTelemetryMessage,
} from '../wire/index.js';
