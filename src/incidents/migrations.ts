import type { ColumnDefinitionBuilder, Kysely, Migration } from 'kysely';

const text = (c: ColumnDefinitionBuilder) => c.notNull();

/** Incidents, the findings reported to them, timelines, playbook runs and steps, and the notification outbox. */
export const incidentMigrations: Record<string, Migration> = {
  '0020_incidents': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('incident_records')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text')
        .addColumn('title', 'text', text)
        .addColumn('severity', 'text', text)
        .addColumn('state', 'text', text)
        .addColumn('resolution', 'text')
        .addColumn('owner', 'text')
        .addColumn('opened_by', 'text', text)
        .addColumn('opened_at', 'text', text)
        .addColumn('first_seen', 'text')
        .addColumn('group_key', 'text')
        .addColumn('open_group_key', 'text', (c) => c.unique())
        .addColumn('assets', 'text', text)
        .addColumn('scope', 'text')
        .addColumn('scope_started_at', 'text')
        .addColumn('scope_done_at', 'text')
        .addColumn('contained_at', 'text')
        .addColumn('closed_at', 'text')
        .addColumn('updated_at', 'text', text)
        .execute();
      await db.schema.createIndex('incident_records_opened').on('incident_records').column('opened_at').execute();
      await db.schema
        .createTable('incident_findings')
        .addColumn('finding_id', 'text', (c) => c.primaryKey())
        .addColumn('rule_id', 'text', text)
        .addColumn('rule_version', 'integer', text)
        .addColumn('severity', 'text', text)
        .addColumn('tenant_id', 'text')
        .addColumn('group_key', 'text', text)
        .addColumn('title', 'text', text)
        .addColumn('summary', 'text', text)
        .addColumn('first_seen', 'text', text)
        .addColumn('last_seen', 'text', text)
        .addColumn('count', 'integer', text)
        .addColumn('evidence', 'text', text)
        .addColumn('assets', 'text', text)
        .addColumn('incident_id', 'text')
        .addColumn('reported_at', 'text', text)
        .execute();
      await db.schema
        .createIndex('incident_findings_rule')
        .on('incident_findings')
        .columns(['rule_id', 'last_seen'])
        .execute();
      await db.schema.createIndex('incident_findings_incident').on('incident_findings').column('incident_id').execute();
      await db.schema
        .createTable('incident_timeline')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('incident_id', 'text', text)
        .addColumn('position', 'integer', text)
        .addColumn('at', 'text', text)
        .addColumn('kind', 'text', text)
        .addColumn('actor', 'text', text)
        .addColumn('summary', 'text', text)
        .addColumn('details', 'text', text)
        .execute();
      await db.schema
        .createIndex('incident_timeline_incident')
        .on('incident_timeline')
        .columns(['incident_id', 'position'])
        .execute();
      await db.schema
        .createTable('incident_runs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('incident_id', 'text', text)
        .addColumn('playbook_id', 'text', text)
        .addColumn('playbook_version', 'integer', text)
        .addColumn('requested_by', 'text', text)
        .addColumn('state', 'text', text)
        .addColumn('created_at', 'text', text)
        .addColumn('finished_at', 'text')
        .execute();
      await db.schema.createIndex('incident_runs_incident').on('incident_runs').column('incident_id').execute();
      await db.schema
        .createTable('incident_steps')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('run_id', 'text', text)
        .addColumn('incident_id', 'text', text)
        .addColumn('position', 'integer', text)
        .addColumn('step_id', 'text', text)
        .addColumn('action', 'text', text)
        .addColumn('target_kind', 'text', text)
        .addColumn('targets', 'text', text)
        .addColumn('params', 'text', text)
        .addColumn('vehicle_count', 'integer', text)
        .addColumn('approval', 'integer', text)
        .addColumn('state', 'text', text)
        .addColumn('decided_by', 'text')
        .addColumn('decided_at', 'text')
        .addColumn('started_at', 'text')
        .addColumn('effective_at', 'text')
        .addColumn('result', 'text')
        .addColumn('error', 'text')
        .execute();
      await db.schema.createIndex('incident_steps_run').on('incident_steps').columns(['run_id', 'position']).execute();
      await db.schema
        .createTable('incident_notifications')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('incident_id', 'text', text)
        .addColumn('recipient_kind', 'text', text)
        .addColumn('recipient_id', 'text', text)
        .addColumn('template', 'text', text)
        .addColumn('details', 'text', text)
        .addColumn('state', 'text', text)
        .addColumn('created_at', 'text', text)
        .execute();
      await db.schema
        .createIndex('incident_notifications_incident')
        .on('incident_notifications')
        .column('incident_id')
        .execute();
    },
  },
};
