import { makeAppendOnly } from '../storage/index.js';
import type { Kysely, Migration } from 'kysely';
import { dialectOf } from '../storage/index.js';

/** Audit schema: one append-only table, guarded by triggers on both engines. */
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
};
