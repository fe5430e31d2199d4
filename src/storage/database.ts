import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import {
  type DatabaseIntrospector,
  type DatabaseMetadata,
  Kysely,
  PostgresDialect,
  type PostgresDialectConfig,
  type PostgresPool,
  type PostgresPoolClient,
  type SchemaMetadata,
  sql,
  type TableMetadata,
} from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import { GroupCommitSqliteDialect } from './group-commit.js';

/** Which engine a storage handle talks to. */
export type Dialect = 'sqlite' | 'postgres';

/** An open database: the Kysely handle, its dialect, and lifecycle calls. */
export interface Storage {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** The PostgreSQL schema holding the tables; null for SQLite. */
  readonly schema: string | null;
  /** Where the data lives, for logs: a file path or a redacted URL. */
  readonly location: string;
  /** True when a trivial query succeeds. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** Options for opening storage. */
export interface StorageOptions {
  /** PostgreSQL URL; when null, SQLite is used. */
  url: string | null;
  /** PostgreSQL schema for all tables. */
  schema: string;
  /** Directory for the SQLite file. */
  dataDir: string;
  /** SQLite file name inside dataDir (tests use their own). */
  sqliteFile?: string;
  /** PostgreSQL time bounds (config `database.*TimeoutMs`); the defaults apply when omitted. */
  timeouts?: Partial<PostgresTimeouts>;
  /** Told when a connection fails outside a query (terminated, reset): it is replaced, never fatal. */
  onConnectionError?: (err: Error) => void;
}

/** How long PostgreSQL may take: to connect, to run a statement (server side), to answer at all (client side). */
export interface PostgresTimeouts {
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  queryTimeoutMs: number;
}

const DEFAULT_TIMEOUTS: PostgresTimeouts = {
  connectTimeoutMs: 5000,
  statementTimeoutMs: 10_000,
  queryTimeoutMs: 15_000,
};

/** Hides the password in a connection URL before it is logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

function assertSchemaName(schema: string): void {
  // The schema name is interpolated into DDL and a search_path option, so it must be a plain identifier.
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`invalid PostgreSQL schema name "${schema}": use lowercase letters, digits and underscores`);
  }
}

async function openPostgres(
  url: string,
  schema: string,
  timeouts: PostgresTimeouts,
  onError: (err: Error) => void,
): Promise<Storage> {
  assertSchemaName(schema);
  // int8 (bigint) arrives as a string by default; our bigints (audit sequence numbers) fit in a double.
  const types = {
    getTypeParser: (oid: number, format?: 'text' | 'binary') =>
      oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format),
  };
  const bootstrap = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: timeouts.connectTimeoutMs,
    query_timeout: timeouts.queryTimeoutMs,
  });
  bootstrap.on('error', () => undefined);
  await bootstrap.connect();
  try {
    await bootstrap.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  } finally {
    await bootstrap.end();
  }
  const pool = new pg.Pool({
    connectionString: url,
    options: `-c search_path="${schema}"`,
    types,
    max: 10,
    // Every wait on PostgreSQL is bounded, so a hung or unreachable database answers 503 instead of hanging.
    connectionTimeoutMillis: timeouts.connectTimeoutMs,
    statement_timeout: timeouts.statementTimeoutMs,
    idle_in_transaction_session_timeout: timeouts.statementTimeoutMs,
    query_timeout: timeouts.queryTimeoutMs,
    keepAlive: true,
  });
  // An idle connection that PostgreSQL terminates emits 'error' on the pool: without a listener the process exits.
  // The pool has already dropped it; the next checkout opens a new one.
  pool.on('error', onError);
  const db = new Kysely<Database>({
    dialect: new SchemaPostgresDialect({ pool: discardingPool(pool, onError) }, schema),
  });
  return {
    db,
    dialect: 'postgres',
    schema,
    location: `${redactUrl(url)} (schema ${schema})`,
    ping: () => ping(db),
    close: () => db.destroy(),
  };
}

/**
 * Hands Kysely the pool's clients with two guards. A client checked out has no error listener of the pool's (pg-pool
 * removes it), so a connection terminated between two queries of a transaction would crash the process: one is
 * attached while it is out. And a client whose query hit the client-side timeout may still have that query in flight
 * on a hung socket, so it is destroyed on release instead of going back to the pool to delay the next request.
 */
function discardingPool(pool: pg.Pool, onError: (err: Error) => void): PostgresPool {
  return {
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect();
      let broken: Error | undefined;
      const onClientError = (err: Error) => {
        broken = err;
        onError(err);
      };
      client.on('error', onClientError);
      const query = (...args: unknown[]) => {
        const result = (client.query as (...a: unknown[]) => unknown)(...args);
        if (result instanceof Promise)
          result.catch((err: unknown) => {
            if (err instanceof Error && err.message === 'Query read timeout') broken = err;
          });
        return result;
      };
      const release = () => {
        client.removeListener('error', onClientError);
        client.release(broken);
      };
      return { query, release } as PostgresPoolClient;
    },
    end: () => pool.end(),
  };
}

/**
 * The migrator asks the introspector whether its bookkeeping tables exist. Kysely's PostgreSQL introspector reads
 * every schema's tables and calls has_schema_privilege on each, which fails (3F000) when another process drops a
 * schema meanwhile: a database shared by several deployments or test runs made migrations fail at random. This one
 * reads only the deployment's own schema.
 */
class SchemaIntrospector implements DatabaseIntrospector {
  constructor(
    private readonly db: Kysely<unknown>,
    private readonly schema: string,
  ) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const r = await sql<{ name: string }>`select nspname as name from pg_namespace`.execute(this.db);
    return r.rows;
  }

  async getTables(): Promise<TableMetadata[]> {
    const r = await sql<{ name: string; type: string }>`select table_name as name, table_type as type
      from information_schema.tables where table_schema = ${this.schema}`.execute(this.db);
    return r.rows.map((t) => ({ name: t.name, schema: this.schema, isView: t.type === 'VIEW', columns: [] }));
  }

  async getMetadata(): Promise<DatabaseMetadata> {
    return { tables: await this.getTables() };
  }
}

class SchemaPostgresDialect extends PostgresDialect {
  constructor(
    config: PostgresDialectConfig,
    private readonly schema: string,
  ) {
    super(config);
  }
  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SchemaIntrospector(db, this.schema);
  }
}

function openSqlite(dataDir: string, fileName: string): Storage {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, fileName);
  const handle = new SQLite(file);
  handle.pragma('journal_mode = WAL');
  // FULL makes every commit durable before it returns: an acknowledgement must mean the data is on disk.
  handle.pragma('synchronous = FULL');
  handle.pragma('foreign_keys = ON');
  handle.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new GroupCommitSqliteDialect(handle) });
  return { db, dialect: 'sqlite', schema: null, location: file, ping: () => ping(db), close: () => db.destroy() };
}

async function ping(db: Kysely<Database>): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}

/** Opens SQLite or PostgreSQL according to the options. Does not migrate. */
export async function openStorage(options: StorageOptions): Promise<Storage> {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const onError = options.onConnectionError ?? (() => undefined);
  return options.url
    ? openPostgres(options.url, options.schema, timeouts, onError)
    : openSqlite(options.dataDir, options.sqliteFile ?? 'carapace.sqlite');
}
