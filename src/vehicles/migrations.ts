import type { Kysely, Migration } from 'kysely';
import { countChanges, dialectOf } from '../storage/index.js';

/** Vehicle registry schema. */
export const vehicleMigrations: Record<string, Migration> = {
  '0002_vehicles': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('vehicles')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('vin', 'text', (c) => c.unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0033_vehicle_authorization_changes': {
    // The vehicle rows a decision reads (entity-cache.ts).
    async up(db: Kysely<unknown>) {
      // Enrollment inserts vehicles at fleet scale; a new vehicle's id is random and fresh, so no node holds an entry
      // for it and only changes count (the cache is not emptied by every enrollment).
      const pg = dialectOf(db) === 'postgres';
      const events = ['update', 'delete'] as const;
      await countChanges(db, { table: 'vehicles', counter: 'authorization', columns: ['vin'], events, pg });
    },
  },
};
