/** The inventory module's public surface: other folders import only from here. */
export { INVENTORY_AUDIT_EVENTS, type InventoryAuditEvent, type InventoryAuditLog } from './audit-events.js';
export { inventoryMigrations } from './migrations.js';
export type { ApiVersionUsageRow, GovernanceSnapshotRow, InventoryTables } from './tables.js';
export { createVersionUsage, versionOf, type DeprecatedUse, type VersionUsage } from './usage.js';
export { openApiDocument, PLANES, type OpenApiDocument, type Plane } from './openapi.js';
export { buildInventory, policiesFor, type InventoryRow, type InventorySources } from './inventory.js';
export { GOVERNANCE_MEASURES, governanceMetrics, type GovernanceMetric, type GovernanceMeasure } from './governance.js';
export { versionContractBreaks } from './contracts.js';
export { leafFields } from './fields.js';
export { API_VERSION, createInventoryService, type CommandFacts, type InventoryService } from './service.js';
export { registerInventoryAdminRoutes, registerInventoryPublicRoutes } from './routes.js';
export { EXPORT_FORMATS, exportRows, type ExportFormat } from './export.js';
export { clientRouteTypes, schemaType } from './client-types.js';
export {
  createGovernanceHistory,
  HISTORY_MAX_ROWS,
  recordedOverTime,
  type GovernanceHistory,
  type GovernanceSeries,
} from './history.js';
