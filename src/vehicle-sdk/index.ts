export { generateDeviceKey, createCsr, importDeviceKey, type DeviceKey, type DeviceKeyAlgorithm } from './credentials.js';
export { GatewayClient, GatewayError, type DeviceCredentials, type IssuedCredentials, type StoredCredentials, type TelemetryReceipt } from './gateway-client.js';
export { httpsRequest, type HttpsResponse, type TlsIdentity } from './https.js';
export { canonicalMessage, type DoorName, type SignedTelemetry, type TelemetryMessage, type TelemetryPayload } from './telemetry-message.js';
export { FileSequenceStore, MemorySequenceStore, type SequenceStore } from './sequence-store.js';
export { signMessage, TelemetrySigner, type TelemetryIdentity } from './telemetry-signer.js';
