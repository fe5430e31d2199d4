import type { Kysely, Migration } from 'kysely';

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
};
