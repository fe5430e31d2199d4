import type { Kysely } from 'kysely';
import { auditMigrations } from '../audit/index.js';
import { authMigrations } from '../auth/index.js';
import { commandMigrations } from '../commands/index.js';
import { detectMigrations } from '../detect/index.js';
import { identityMigrations } from '../identity/index.js';
import { incidentMigrations } from '../incidents/index.js';
import { inventoryMigrations } from '../inventory/index.js';
import { operatorMigrations } from '../operators/index.js';
import { pkiMigrations } from '../pki/index.js';
import { relationshipMigrations } from '../relationships/index.js';
import { type Database, type MigrationReport, migrateToLatest } from '../storage/index.js';
import { siemMigrations } from '../siem/index.js';
import { telemetryMigrations } from '../telemetry/index.js';
import { vehicleMigrations } from '../vehicles/index.js';
import { webhookMigrations } from '../webhooks/index.js';

/** All migrations, from every module; names sort in the order they must run. */
export const allMigrations = {
  ...auditMigrations,
  ...vehicleMigrations,
  ...pkiMigrations,
  ...identityMigrations,
  ...authMigrations,
  ...relationshipMigrations,
  ...telemetryMigrations,
  ...commandMigrations,
  ...siemMigrations,
  ...incidentMigrations,
  ...detectMigrations,
  ...webhookMigrations,
  ...inventoryMigrations,
  ...operatorMigrations,
};

/** Brings a database to the current schema of every module. */
export function migrateDatabase(
  db: Kysely<Database>,
  options: { schema?: string | null } = {},
): Promise<MigrationReport> {
  return migrateToLatest(db, allMigrations, options);
}
