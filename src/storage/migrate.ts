import { type Kysely, type Migration, Migrator } from 'kysely';
import type { Database } from './schema.js';

/** What a migration run did. */
export interface MigrationReport {
  applied: string[];
  total: number;
}

/**
 * Applies every pending migration of the given set (the composition root passes every module's); throws with
 * the failing migration's name. On PostgreSQL the migration bookkeeping tables are named with their schema:
 * unqualified, Kysely would find another schema's copies in the same database and skip creating its own.
 */
export async function migrateToLatest(
  db: Kysely<Database>,
  migrations: Record<string, Migration>,
  options: { schema?: string | null } = {},
): Promise<MigrationReport> {
  const provider = { getMigrations: async () => migrations };
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
    total: Object.keys(migrations).length,
  };
}
