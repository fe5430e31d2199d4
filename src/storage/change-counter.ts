import { type Kysely, sql } from 'kysely';

/**
 * Change counters: one row per counter in `change_counters`, bumped by triggers on the tables it watches, in the
 * transaction that changes them. A reader that sees the same number twice knows none of those tables changed in
 * between, on any node (the row lock on PostgreSQL makes the numbers follow commit order; on SQLite a read inside an
 * open group commit resolves only once that batch has committed, so no reader acts on a bump that rolls back).
 * Storage's own bookkeeping, like the migrator's table: no module owns it, every module may count its own tables
 * into it.
 */
export type ChangeCounter = 'authorization';

/** A statement a change counter counts. */
export type CountedChange = 'insert' | 'update' | 'delete';

/**
 * Counts the inserts, updates (of `columns` when given) and deletes (`events`, all by default) of `table` into
 * `counter`. Used by the watched table's own module in a migration; the SQL it emits must never change.
 */
export async function countChanges(
  db: Kysely<unknown>,
  args: {
    table: string;
    counter: ChangeCounter;
    columns?: readonly string[];
    events?: readonly CountedChange[];
    pg: boolean;
  },
): Promise<void> {
  const { table, counter, pg } = args;
  const t = sql.raw(table);
  const name = sql.lit(counter);
  const events = args.events ?? ['insert', 'update', 'delete'];
  const clause = (e: CountedChange) =>
    e === 'update' && args.columns ? `UPDATE OF ${args.columns.join(', ')}` : e.toUpperCase();
  await sql`CREATE TABLE IF NOT EXISTS change_counters (name text PRIMARY KEY, n bigint NOT NULL)`.execute(db);
  await sql`INSERT INTO change_counters (name, n) VALUES (${name}, 0) ON CONFLICT (name) DO NOTHING`.execute(db);
  if (pg) {
    await sql`CREATE OR REPLACE FUNCTION change_counter_bump() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN UPDATE change_counters SET n = n + 1 WHERE name = TG_ARGV[0]; RETURN NULL; END $$`.execute(db);
    // Once per statement, and before it: a transaction takes the counter's row lock before any row lock of a
    // watched table, so two writers cannot each hold what the other waits for.
    const on = [...events.map(clause), 'TRUNCATE'].join(' OR ');
    await sql`CREATE TRIGGER ${sql.raw(`${table}_counts_${counter}`)} BEFORE ${sql.raw(on)} ON ${t}
          FOR EACH STATEMENT EXECUTE FUNCTION change_counter_bump(${name})`.execute(db);
    return;
  }
  for (const e of events)
    await sql`CREATE TRIGGER ${sql.raw(`${table}_counts_${counter}_${e}`)} AFTER ${sql.raw(clause(e))} ON ${t}
          BEGIN UPDATE change_counters SET n = n + 1 WHERE name = ${name}; END`.execute(db);
}

/**
 * The counter's current value, as text (it outgrows a JavaScript number); throws when it is missing (a reader must
 * then not trust what it cached). Compare values for equality only.
 */
export async function readChangeCounter<DB>(db: Kysely<DB>, counter: ChangeCounter): Promise<string> {
  const { rows } = await sql<{
    n: string;
  }>`SELECT CAST(n AS TEXT) AS n FROM change_counters WHERE name = ${counter}`.execute(db);
  const n = rows[0]?.n;
  if (n === undefined) throw new Error(`change counter ${counter} is missing`);
  return n;
}
