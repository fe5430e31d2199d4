import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';
import { auditMigrations } from '../audit/migrations.js';
import { authMigrations } from '../auth/migrations.js';
import { commandMigrations } from '../commands/migrations.js';
import { identityMigrations } from '../identity/migrations.js';
import { pkiMigrations } from '../pki/migrations.js';
import { relationshipMigrations } from '../relationships/migrations.js';
import { telemetryMigrations } from '../telemetry/migrations.js';
import { vehicleMigrations } from '../vehicles/migrations.js';
import type { Database } from './schema.js';

/** All migrations, from every module; names sort in the order they must run. */
export const allMigrations: Record<string, Migration> = {
  ...auditMigrations,
  ...vehicleMigrations,
  ...pkiMigrations,
  ...identityMigrations,
  ...authMigrations,
  ...relationshipMigrations,
  ...telemetryMigrations,
  ...commandMigrations,
};

const provider: MigrationProvider = { getMigrations: async () => allMigrations };

/** What a migration run did. */
export interface MigrationReport {
  applied: string[];
  total: number;
}

/**
 * Applies every pending migration; throws with the failing migration's name. On PostgreSQL the migration
 * bookkeeping tables are named with their schema: unqualified, Kysely would find another schema's copies in
 * the same database and skip creating its own.
 */
export async function migrateToLatest(
  db: Kysely<Database>,
  options: { schema?: string | null } = {},
): Promise<MigrationReport> {
  const migrator = new Migrator({ db, provider, ...(options.schema ? { migrationTableSchema: options.schema } : {}) });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error) {
    throw new Error(
      `migration ${failed?.migrationName ?? '(unknown)'} failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return {
    applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName),
    total: Object.keys(allMigrations).length,
  };
}
