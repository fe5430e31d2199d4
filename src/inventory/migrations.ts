import type { Kysely, Migration } from 'kysely';
import { dialectOf } from '../storage/index.js';

/** Inventory schema: the durable count of calls of deprecated API versions; governance numbers over time. */
export const inventoryMigrations: Record<string, Migration> = {
  '0024_api_version_usage': {
    async up(db: Kysely<unknown>) {
      const int = dialectOf(db) === 'postgres' ? 'bigint' : 'integer';
      await db.schema
        .createTable('api_version_usage')
        .addColumn('route', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('vehicle_id', 'text', (c) => c.notNull())
        .addColumn('calls', int, (c) => c.notNull())
        .addColumn('first_at', 'text', (c) => c.notNull())
        .addColumn('last_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('api_version_usage_pk', ['route', 'version', 'client_id', 'vehicle_id'])
        .execute();
    },
  },
  '0032_governance_snapshots': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('governance_snapshots')
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('measure', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('labels', 'text', (c) => c.notNull())
        .addColumn('value', 'double precision', (c) => c.notNull())
        .addPrimaryKeyConstraint('governance_snapshots_pk', ['at', 'name', 'labels'])
        .execute();
      // The history route reads a time range of one measure.
      await db.schema
        .createIndex('governance_snapshots_measure_at')
        .on('governance_snapshots')
        .columns(['measure', 'at'])
        .execute();
    },
  },
};
