export { openStorage, redactUrl, type Storage, type StorageOptions, type Dialect } from './database.js';
export { migrateToLatest, type MigrationReport } from './migrate.js';
export type { Database } from './schema.js';
export { dialectOf } from './dialect.js';
export { isUniqueViolation } from './constraint.js';
export { makeAppendOnly } from './append-only.js';
export { countChanges, readChangeCounter, type ChangeCounter, type CountedChange } from './change-counter.js';
