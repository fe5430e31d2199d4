/** The incidents module's public surface: other folders import only from here. */
export { createIncidents, type Incidents, type IncidentsDeps } from './service.js';
export { registerIncidentRoutes } from './routes.js';
export { incidentMigrations } from './migrations.js';
export type { IncidentTables } from './tables.js';
export { INCIDENTS_AUDIT_EVENTS, type IncidentAuditEvent, type IncidentAuditLog } from './audit-events.js';
export { ACTIONS, checkPlaybook, DEFAULT_PLAYBOOK_DIR, loadPlaybooks, type Playbook } from './playbooks.js';
export { INCIDENT_TRANSITIONS } from './lifecycle.js';
export type { ResponsePorts } from './actions.js';
export type { Scope } from './scoping.js';
