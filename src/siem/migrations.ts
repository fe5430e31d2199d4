import type { Kysely, Migration } from 'kysely';
import { dialectOf } from '../storage/index.js';

/** SIEM export schema: one cursor row per sink. Named in the audit series, after the evidence migrations. */
export const siemMigrations: Record<string, Migration> = {
  '0015_audit_export': {
    async up(db: Kysely<unknown>) {
      const int = dialectOf(db) === 'postgres' ? 'bigint' : 'integer';
      await db.schema
        .createTable('siem_cursors')
        .addColumn('sink', 'text', (c) => c.primaryKey())
        .addColumn('leaf_index', int, (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('node', 'text', (c) => c.notNull())
        .execute();
    },
  },
};
