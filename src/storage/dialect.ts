import { type Kysely, PostgresAdapter } from 'kysely';

/** The engine behind a Kysely handle; migrations use it where SQLite and PostgreSQL DDL differ. */
export function dialectOf<DB>(db: Kysely<DB>): 'sqlite' | 'postgres' {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}
