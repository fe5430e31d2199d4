export {
  generateDeviceKey,
  createCsr,
  importDeviceKey,
  type DeviceKey,
  type DeviceKeyAlgorithm,
} from './credentials.js';
export {
  GatewayClient,
  GatewayError,
  type DeviceCredentials,
  type IssuedCredentials,
  type StoredCredentials,
  type TelemetryReceipt,
} from './gateway-client.js';
export { httpsRequest, type HttpsResponse, type TlsIdentity } from './https.js';
export {
  canonicalMessage,
  type DoorName,
  type SignedTelemetry,
  type TelemetryMessage,
  type TelemetryPayload,
} from './telemetry-message.js';
export { FileSequenceStore, MemorySequenceStore, type SequenceStore } from './sequence-store.js';
export { signMessage, TelemetrySigner, type TelemetryIdentity } from './telemetry-signer.js';
export {
  canonicalJson,
  COMMAND_SIGNING_EKU,
  envelopeHash,
  paramsHash,
  sha256,
  REFUSAL_CODES,
  type AckClaims,
  type EnvelopeClaims,
  type RefusalCode,
  type SignedEnvelope,
} from './command-envelope.js';
// The wire contracts themselves, so an integrator can validate with the schemas the platform uses.
export {
  AckClaimsSchema,
  COMMAND_NAMES,
  CommandFrameSchema,
  EnrollmentResultSchema,
  EnvelopeClaimsSchema,
  isCommandName,
  SignedEnvelopeSchema,
  SignedTelemetrySchema,
  TelemetryMessageSchema,
  TelemetryReceiptSchema,
  validateTelemetryMessage,
  type CommandName,
  type CommandVerificationKey,
  type EnrollmentResult,
} from '../wire/index.js';
export { CounterWindow, FileCounterStore, MemoryCounterStore, type CounterStore } from './counter-window.js';
export { EnvelopeVerifier, type EnvelopeVerdict, type PinnedKey } from './envelope-verifier.js';
export { VehicleModel, type Execution, type VehicleModelState } from './vehicle-model.js';
export { CommandChannel, signAck, type ChannelEvent } from './command-channel.js';
export { FileAnswerStore, MemoryAnswerStore, type AnswerStore } from './answer-store.js';
export { parseCanonical, verifyDetached } from './command-envelope.js';
export { busyDelayMs, reconnectDelayMs, retryAfterMs } from './retry-schedule.js';
