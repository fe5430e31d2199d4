import type { Kysely, Migration } from 'kysely';
import { countChanges, dialectOf } from '../storage/index.js';

/** Relationship store schema. */
export const relationshipMigrations: Record<string, Migration> = {
  '0006_relationships': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('fleet_groups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('relationships')
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
      await db.schema
        .createIndex('relationships_vehicle')
        .on('relationships')
        .columns(['vehicle_id', 'kind'])
        .execute();
      await db.schema.createIndex('relationships_tenant').on('relationships').columns(['tenant_id', 'kind']).execute();
    },
  },
  // Lifecycles on top of the relationship rows: delegation invites, claim codes, dealer service cases,
  // support cases and their just-in-time command approvals. Access itself is always a relationship row.
  '0007_relationship_lifecycles': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('delegation_invites')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('vehicle_id', 'text', (c) => c.notNull().references('vehicles.id'))
        .addColumn('invitee_email', 'text', (c) => c.notNull())
        .addColumn('code_hash', 'text', (c) => c.notNull().unique())
        .addColumn('commands', 'text', (c) => c.notNull())
        .addColumn('valid_from', 'text', (c) => c.notNull())
        .addColumn('valid_until', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('accepted_by', 'text', (c) => c.references('users.id'))
        .addColumn('accepted_at', 'text')
        .addColumn('relationship_id', 'text', (c) => c.references('relationships.id'))
        .execute();
      await db.schema
        .createIndex('delegation_invites_vehicle')
        .on('delegation_invites')
        .columns(['vehicle_id', 'status'])
        .execute();
      await db.schema
        .createIndex('delegation_invites_invitee')
        .on('delegation_invites')
        .columns(['invitee_email', 'status'])
        .execute();
      await db.schema
        .createTable('claim_codes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('vehicle_id', 'text', (c) => c.notNull().references('vehicles.id'))
        .addColumn('code_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('used_at', 'text')
        .addColumn('used_by', 'text', (c) => c.references('users.id'))
        .execute();
      await db.schema.createIndex('claim_codes_vehicle').on('claim_codes').columns(['vehicle_id']).execute();
      await db.schema
        .createTable('service_cases')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('dealer_tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('vehicle_id', 'text', (c) => c.references('vehicles.id'))
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('requested_by', 'text', (c) => c.notNull())
        .addColumn('requested_at', 'text', (c) => c.notNull())
        .addColumn('consented_by', 'text')
        .addColumn('consented_at', 'text')
        .addColumn('closes_at', 'text')
        .addColumn('closed_at', 'text')
        .addColumn('closed_by', 'text')
        .addColumn('resolution', 'text')
        .addColumn('relationship_id', 'text', (c) => c.references('relationships.id'))
        .execute();
      await db.schema
        .createIndex('service_cases_dealer')
        .on('service_cases')
        .columns(['dealer_tenant_id', 'status'])
        .execute();
      await db.schema
        .createIndex('service_cases_vehicle')
        .on('service_cases')
        .columns(['vehicle_id', 'status'])
        .execute();
      await db.schema
        .createTable('support_cases')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('operator_tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('account_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('vehicle_id', 'text', (c) => c.references('vehicles.id'))
        .addColumn('assignee_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('summary', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('opened_by', 'text', (c) => c.notNull())
        .addColumn('opened_at', 'text', (c) => c.notNull())
        .addColumn('closed_at', 'text')
        .addColumn('closed_by', 'text')
        .addColumn('resolution', 'text')
        .addColumn('relationship_id', 'text', (c) => c.references('relationships.id'))
        .execute();
      await db.schema
        .createIndex('support_cases_assignee')
        .on('support_cases')
        .columns(['assignee_id', 'status'])
        .execute();
      await db.schema
        .createTable('jit_approvals')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('support_case_id', 'text', (c) => c.notNull().references('support_cases.id'))
        .addColumn('agent_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('vehicle_id', 'text', (c) => c.notNull().references('vehicles.id'))
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('approved_by', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('approved_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('used_at', 'text')
        .execute();
      await db.schema
        .createIndex('jit_approvals_agent')
        .on('jit_approvals')
        .columns(['agent_id', 'vehicle_id'])
        .execute();
    },
  },
  '0034_relationship_authorization_changes': {
    // Every relationship a decision reads (entity-cache.ts): a grant, an end, a transfer reaches every node at once.
    async up(db: Kysely<unknown>) {
      await countChanges(db, { table: 'relationships', counter: 'authorization', pg: dialectOf(db) === 'postgres' });
    },
  },
};
