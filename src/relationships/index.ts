export {
  createRelationshipStore,
  type RelationshipStore,
  type NewRelationship,
  type RelationshipActor,
} from './store.js';
export { relationshipMigrations } from './migrations.js';
export {
  RELATIONSHIP_KINDS,
  type RelationshipKind,
  type RelationshipRow,
  type RelationshipTables,
  type FleetGroupRow,
} from './tables.js';
export {
  createVehicleAccess,
  type VehicleAccess,
  type OwnershipCascade,
  type Actor,
  PARTNER_GRANTABLE_SCOPES,
  MAX_DELEGATION_DAYS,
} from './access.js';
export { createClaims, type Claims, type ClaimLimits } from './claims.js';
export { createCases, type Cases } from './cases.js';
export { createFleetGroups, type FleetGroups } from './fleet.js';
export type { DelegationInviteRow, ServiceCaseRow, SupportCaseRow, JitApprovalRow, ClaimCodeRow } from './tables.js';
export { registerCaseRoutes, registerFleetRoutes, registerSharingRoutes } from './routes.js';
export type { VehicleLookup } from './ports.js';
export {
  FLEET_AUDIT_EVENTS,
  RELATIONSHIPS_AUDIT_EVENTS,
  type RelationshipAuditEvent,
  type RelationshipAuditLog,
} from './audit-events.js';
export {
  findDelegationInvite,
  findFleetGroup,
  consumeApproval,
  findLiveApproval,
  groupVehicleIds,
  findServiceCase,
  findSupportCase,
  openApproval,
  relationshipsInForce,
  relationshipsNotOver,
  vehiclesRelatedTo,
  type RelationshipFilter,
} from './reads.js';
