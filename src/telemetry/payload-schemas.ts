import { type TelemetryMessage, type TelemetryPayload, validateTelemetryMessage } from '../wire/index.js';

/**
 * The gateway validates with the wire contract the vehicle SDK builds with (src/wire/telemetry.ts): one
 * declaration, so the two cannot drift.
 */
export { MESSAGE_SCHEMA, PAYLOAD_SCHEMAS, type PayloadKind } from '../wire/index.js';

/** A message that passed the schema. */
export type ValidMessage = TelemetryMessage;
/** A payload that passed its kind's schema. */
export type Payload = TelemetryPayload;

/** Validates a parsed message; returns it typed, or the path and reason of the first problem. */
export const validateMessage: (value: unknown) => { ok: true; message: ValidMessage } | { ok: false; detail: string } =
  validateTelemetryMessage;
