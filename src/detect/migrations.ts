import type { Kysely, Migration } from 'kysely';
import { dialectOf } from '../storage/index.js';

/** The detection module's schema: findings, their evidence events, the engine's cursor. */
export const detectMigrations: Record<string, Migration> = {
  '0019_detect': {
    async up(db: Kysely<unknown>) {
      const big = dialectOf(db) === 'postgres' ? 'bigint' : 'integer';
      await db.schema
        .createTable('detect_findings')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('rule_id', 'text', (c) => c.notNull())
        .addColumn('rule_version', 'integer', (c) => c.notNull())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('tenant_id', 'text')
        .addColumn('group_key', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('assets', 'text', (c) => c.notNull())
        .addColumn('truncated', 'integer', (c) => c.notNull())
        .addColumn('first_seen', 'text', (c) => c.notNull())
        .addColumn('last_seen', 'text', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addColumn('evidence_count', 'integer', (c) => c.notNull())
        .addColumn('summary', 'text', (c) => c.notNull())
        .addColumn('meta', 'integer', (c) => c.notNull())
        .addColumn('incident_id', 'text')
        .addColumn('status_reason', 'text')
        .addColumn('status_by', 'text')
        .addColumn('status_at', 'text')
        .execute();
      await db.schema
        .createIndex('detect_findings_group')
        .on('detect_findings')
        .columns(['rule_id', 'group_key', 'last_seen'])
        .execute();
      await db.schema.createIndex('detect_findings_list').on('detect_findings').columns(['first_seen', 'id']).execute();
      await db.schema
        .createTable('detect_finding_events')
        .addColumn('finding_id', 'text', (c) => c.notNull())
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('event_seq', big, (c) => c.notNull())
        .addPrimaryKeyConstraint('detect_finding_events_pk', ['finding_id', 'event_id'])
        .execute();
      await db.schema
        .createTable('detect_cursor')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('high', big, (c) => c.notNull())
        .addColumn('gaps', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('node', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
};
