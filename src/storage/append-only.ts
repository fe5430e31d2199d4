import { type Kysely, sql } from 'kysely';

/**
 * Makes a table append-only in the database itself: UPDATE, DELETE (and on PostgreSQL TRUNCATE) raise an
 * error, whatever the application does. Used by migrations; the SQL it emits must never change.
 */
export async function makeAppendOnly(
  db: Kysely<unknown>,
  table:
    | 'audit_events'
    | 'audit_leaves'
    | 'audit_checkpoints'
    | 'audit_pivots'
    | 'audit_nodes'
    | 'audit_prunes'
    | 'audit_pruned_nodes'
    | 'audit_holds'
    | 'audit_hold_releases'
    | 'telemetry_messages',
  pg: boolean,
): Promise<void> {
  const t = sql.raw(table);
  const message = sql.lit(`${table} is append-only`);
  if (pg) {
    await sql`CREATE FUNCTION ${sql.raw(`${table}_append_only`)}() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION ${message}; END $$`.execute(db);
    await sql`CREATE TRIGGER ${sql.raw(`${table}_no_change`)} BEFORE UPDATE OR DELETE ON ${t}
          FOR EACH ROW EXECUTE FUNCTION ${sql.raw(`${table}_append_only`)}()`.execute(db);
    await sql`CREATE TRIGGER ${sql.raw(`${table}_no_truncate`)} BEFORE TRUNCATE ON ${t}
          FOR EACH STATEMENT EXECUTE FUNCTION ${sql.raw(`${table}_append_only`)}()`.execute(db);
  } else {
    await sql`CREATE TRIGGER ${sql.raw(`${table}_no_update`)} BEFORE UPDATE ON ${t}
          BEGIN SELECT RAISE(ABORT, ${message}); END`.execute(db);
    await sql`CREATE TRIGGER ${sql.raw(`${table}_no_delete`)} BEFORE DELETE ON ${t}
          BEGIN SELECT RAISE(ABORT, ${message}); END`.execute(db);
  }
}
