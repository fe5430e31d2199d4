import { makeAppendOnly } from '../storage/index.js';
import type { Kysely, Migration } from 'kysely';
import { dialectOf } from '../storage/index.js';

/** Audit schema: append-only tables (events, then the Merkle leaves and checkpoints), guarded by triggers. */
export const auditMigrations: Record<string, Migration> = {
  '0001_audit_events': {
    async up(db: Kysely<unknown>) {
      const pg = dialectOf(db) === 'postgres';
      await db.schema
        .createTable('audit_events')
        .addColumn('seq', pg ? 'bigint' : 'integer', (c) =>
          pg ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement(),
        )
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('occurred_at', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('actor_type', 'text', (c) => c.notNull())
        .addColumn('actor_id', 'text')
        .addColumn('application_id', 'text')
        .addColumn('tenant_id', 'text')
        .addColumn('object_type', 'text')
        .addColumn('object_id', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('decision', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('policy_version', 'text')
        .addColumn('request_id', 'text')
        .addColumn('trace_id', 'text')
        .addColumn('source_ip', 'text')
        .addColumn('details', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('prev_hash', 'text')
        .addColumn('hash', 'text')
        .execute();
      await db.schema
        .createIndex('audit_events_type_time')
        .on('audit_events')
        .columns(['type', 'occurred_at'])
        .execute();
      await db.schema
        .createIndex('audit_events_object')
        .on('audit_events')
        .columns(['object_type', 'object_id'])
        .execute();
      await db.schema
        .createIndex('audit_events_actor')
        .on('audit_events')
        .columns(['actor_type', 'actor_id'])
        .execute();
      await makeAppendOnly(db, 'audit_events', pg);
    },
  },
  '0012_audit_evidence': {
    async up(db: Kysely<unknown>) {
      const pg = dialectOf(db) === 'postgres';
      const int = pg ? 'bigint' : 'integer';
      await db.schema
        .createTable('audit_leaves')
        .addColumn('leaf_index', int, (c) => c.primaryKey())
        .addColumn('event_seq', int, (c) => c.notNull().unique())
        .addColumn('leaf_hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('audit_checkpoints')
        .addColumn('tree_size', int, (c) => c.primaryKey())
        .addColumn('root_hash', 'text', (c) => c.notNull())
        .addColumn('signed_at', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .execute();
      await makeAppendOnly(db, 'audit_leaves', pg);
      await makeAppendOnly(db, 'audit_checkpoints', pg);
    },
  },
};
