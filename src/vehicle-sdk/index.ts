export { generateDeviceKey, createCsr, type DeviceKey, type DeviceKeyAlgorithm } from './credentials.js';
export { GatewayClient, GatewayError, type DeviceCredentials, type IssuedCredentials } from './gateway-client.js';
export { httpsRequest, type HttpsResponse, type TlsIdentity } from './https.js';
