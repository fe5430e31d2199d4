/**
 * The wire contracts between the platform and its vehicles, declared once: the server validates and
 * serializes with these schemas, and the vehicle SDK validates what it receives with the same ones. This
 * module imports nothing else from src/ (only TypeBox, canonicalize and node:crypto), so the SDK can ship
 * without any server code.
 */
export { canonicalJson, parseCanonical, publicKeyFromJwk, sha256, verifyDetached } from './canonical.js';
export {
  CommandVerificationKeySchema,
  EnrollmentResultSchema,
  type CommandVerificationKey,
  type EnrollmentResult,
} from './enrollment.js';
export {
  canonicalMessage,
  DOOR_NAMES,
  MESSAGE_SCHEMA,
  PAYLOAD_SCHEMAS,
  SignedTelemetrySchema,
  TelemetryMessageSchema,
  TelemetryReceiptSchema,
  TelemetryVerdictSchema,
  validateTelemetryMessage,
  type DoorName,
  type PayloadKind,
  type SignedTelemetry,
  type TelemetryMessage,
  type TelemetryPayload,
  type TelemetryReceipt,
} from './telemetry.js';
export {
  AckClaimsSchema,
  AckFrameSchema,
  COMMAND_NAMES,
  COMMAND_SIGNING_EKU,
  CommandFrameSchema,
  EnvelopeClaimsSchema,
  envelopeHash,
  isCommandName,
  paramsHash,
  REFUSAL_CODES,
  SignedEnvelopeSchema,
  TokenFrameSchema,
  type AckClaims,
  type AckFrame,
  type CommandFrame,
  type CommandName,
  type EnvelopeClaims,
  type RefusalCode,
  type SignedEnvelope,
} from './commands.js';
export {
  KeySetClaimsSchema,
  KeySetReceiptClaimsSchema,
  KeysFrameSchema,
  KeysReceiptFrameSchema,
  type KeySetClaims,
  type KeySetReceiptClaims,
  type KeysFrame,
  type KeysReceiptFrame,
} from './key-set.js';
export {
  ed25519Signature,
  hmacSignature,
  parseSignatures,
  PUBLIC_KEY_PREFIX,
  privateKeyOf,
  publicKeyOf,
  publishedKey,
  SECRET_PREFIX,
  secretKey,
  signedContent,
  verifyEd25519,
  WEBHOOK_HEADERS,
} from './webhooks.js';
