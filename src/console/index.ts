/** The console module's public surface: other folders import only from here. */
export { CONSOLE_DIST, loadConsoleBundle, registerConsoleRoutes, type ConsoleBundle } from './routes.js';
export { registerFleetRoute } from './fleet.js';
export { CONSOLE_AUDIT_EVENTS, type ConsoleAuditEvent, type ConsoleAuditLog } from './audit-events.js';
export {
  createMatrixRuns,
  parseMatrixTargets,
  type MatrixRun,
  type MatrixRuns,
  type MatrixTarget,
} from './matrix-runs.js';
export { registerMatrixRoutes } from './matrix-routes.js';
export { registerDeviceSearchRoutes } from './device-search.js';
