/** The gateway module's public surface: other folders import only from here. */
export { type Admission, admissionControl } from './admission.js';
export { ConnectionRegistry } from './connections.js';
export { deviceAuthentication, deviceOf } from './device-auth.js';
export { registerGatewayRoutes } from './routes.js';
export { createHandshakeFailures, type HandshakeFailures, sourceNetwork } from './handshake-failures.js';
export { GATEWAY_AUDIT_EVENTS, type GatewayAuditEvent, type GatewayAuditLog } from './audit-events.js';
