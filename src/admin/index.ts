/** The admin module's public surface: other folders import only from here. */
export {
  operatorAuthentication,
  operatorAuthorization,
  operatorOf,
  requireAdminActions,
  type Operator,
} from './operator-auth.js';
export { registerAdminRoutes } from './routes.js';
export { ADMIN_AUDIT_EVENTS, type AdminAuditEvent, type AdminAuditLog } from './audit-events.js';
export { CheckpointView, registerAuditEvidenceRoutes } from './audit-evidence-routes.js';
export { AuditEventView } from './routes.js';
export { registerAuditRetentionRoutes } from './audit-retention-routes.js';
export { registerFederationRoutes } from './federation-routes.js';
