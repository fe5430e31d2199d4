import type { Kysely, Migration } from 'kysely';
import { countChanges, dialectOf } from '../storage/index.js';

/** Directory schema: tenants, users, memberships, applications, workloads. */
export const identityMigrations: Record<string, Migration> = {
  '0004_identity': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('tenants')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('email', 'text', (c) => c.notNull().unique())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('password_hash', 'text')
        .addColumn('totp_sealed', 'text')
        .addColumn('totp_last_step', 'integer')
        .addColumn('totp_pending_sealed', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('credential_epoch', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('memberships')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('granted_by', 'text')
        .addColumn('granted_at', 'text', (c) => c.notNull())
        .addColumn('ended_at', 'text')
        .execute();
      await db.schema.createIndex('memberships_user').on('memberships').columns(['user_id', 'ended_at']).execute();
      await db.schema
        .createTable('applications')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('client_id', 'text', (c) => c.notNull().unique())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('redirect_uris', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('jwks', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('invitations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('invited_by', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('code_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('accepted_at', 'text')
        .addColumn('accepted_by', 'text')
        .execute();
      await db.schema
        .createTable('workloads')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('client_id', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('jwks', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0025_federated_identities': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('federated_identities')
        .addColumn('issuer', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('linked_via', 'text', (c) => c.notNull())
        .addColumn('linked_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('federated_identities_pk', ['issuer', 'subject'])
        .execute();
      await db.schema.createIndex('federated_identities_user').on('federated_identities').column('user_id').execute();
    },
  },
  '0032_identity_authorization_changes': {
    // What a decision reads of the directory (entity-cache.ts): a change here must reach every node's next decision.
    async up(db: Kysely<unknown>) {
      const pg = dialectOf(db) === 'postgres';
      const columns = ['email', 'display_name', 'status', 'credential_epoch'];
      // A new user's id is random and fresh: no node can hold an entry for it, so only changes count.
      const events = ['update', 'delete'] as const;
      await countChanges(db, { table: 'users', counter: 'authorization', columns, events, pg });
      await countChanges(db, { table: 'memberships', counter: 'authorization', pg });
      await countChanges(db, { table: 'applications', counter: 'authorization', pg });
    },
  },
};
