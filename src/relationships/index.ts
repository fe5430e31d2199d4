export { createRelationshipStore, type RelationshipStore, type NewRelationship, type RelationshipActor } from './store.js';
export { relationshipMigrations } from './migrations.js';
export { RELATIONSHIP_KINDS, type RelationshipKind, type RelationshipRow, type RelationshipTables, type FleetGroupRow } from './tables.js';
