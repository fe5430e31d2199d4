import type { Kysely, Migration } from 'kysely';

/** Relationship store schema. */
export const relationshipMigrations: Record<string, Migration> = {
  '0006_relationships': {
    async up(db: Kysely<unknown>) {
      await db.schema.createTable('fleet_groups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createTable('relationships')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.references('users.id'))
        .addColumn('tenant_id', 'text', (c) => c.references('tenants.id'))
        .addColumn('application_id', 'text')
        .addColumn('vehicle_id', 'text', (c) => c.references('vehicles.id'))
        .addColumn('group_id', 'text', (c) => c.references('fleet_groups.id'))
        .addColumn('account_id', 'text', (c) => c.references('users.id'))
        .addColumn('attributes', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('granted_by', 'text', (c) => c.notNull())
        .addColumn('granted_at', 'text', (c) => c.notNull())
        .addColumn('valid_from', 'text', (c) => c.notNull())
        .addColumn('valid_until', 'text')
        .addColumn('ended_at', 'text')
        .addColumn('ended_by', 'text')
        .addColumn('end_reason', 'text')
        .execute();
      await db.schema.createIndex('relationships_user').on('relationships').columns(['user_id', 'kind']).execute();
      await db.schema.createIndex('relationships_vehicle').on('relationships').columns(['vehicle_id', 'kind']).execute();
      await db.schema.createIndex('relationships_tenant').on('relationships').columns(['tenant_id', 'kind']).execute();
    },
  },
};
