import type { ColumnDefinitionBuilder, Kysely, Migration } from 'kysely';

const text = (c: ColumnDefinitionBuilder) => c.notNull();

/** Operators with their roles, console sessions, elevations and two-person approvals. */
export const operatorMigrations: Record<string, Migration> = {
  '0026_operators': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('operators')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('kind', 'text', text)
        .addColumn('user_id', 'text', (c) => c.unique())
        .addColumn('certificate_serial', 'text', (c) => c.unique())
        .addColumn('roles', 'text', text)
        .addColumn('created_at', 'text', text)
        .addColumn('disabled_at', 'text')
        .execute();
      await db.schema
        .createTable('operator_sessions')
        .addColumn('id_hash', 'text', (c) => c.primaryKey())
        .addColumn('operator_id', 'text', text)
        .addColumn('credential_epoch', 'integer', text)
        .addColumn('created_at', 'text', text)
        .addColumn('last_seen_at', 'text', text)
        .addColumn('expires_at', 'text', text)
        .addColumn('ended_at', 'text')
        .addColumn('end_reason', 'text')
        .execute();
      await db.schema.createIndex('operator_sessions_operator').on('operator_sessions').column('operator_id').execute();
      await db.schema
        .createTable('operator_elevations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('operator_id', 'text', text)
        .addColumn('session_hash', 'text', text)
        .addColumn('reason', 'text', text)
        .addColumn('started_at', 'text', text)
        .addColumn('until', 'text', text)
        .addColumn('ended_at', 'text')
        .execute();
      await db.schema
        .createIndex('operator_elevations_session')
        .on('operator_elevations')
        .column('session_hash')
        .execute();
      await db.schema
        .createTable('operator_approvals')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('action', 'text', text)
        .addColumn('reason', 'text', text)
        .addColumn('requested_by', 'text', text)
        .addColumn('requested_at', 'text', text)
        .addColumn('approved_by', 'text')
        .addColumn('approved_at', 'text')
        .addColumn('expires_at', 'text', text)
        .addColumn('used_at', 'text')
        .execute();
      await db.schema
        .createTable('operator_sign_ins')
        .addColumn('state_hash', 'text', (c) => c.primaryKey())
        .addColumn('code_verifier', 'text', text)
        .addColumn('expires_at', 'text', text)
        .execute();
    },
  },
};
