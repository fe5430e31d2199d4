import type { Kysely, Migration } from 'kysely';
import { dialectOf } from '../storage/index.js';

/** Inventory schema: the durable count of calls of deprecated API versions. */
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
};
