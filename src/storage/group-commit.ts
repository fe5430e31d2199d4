import type { Database as SqliteHandle } from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  SelectQueryNode,
  SqliteDialect,
  type SqliteDialectConfig,
} from 'kysely';
import { withStatementCache } from './statement-cache.js';

const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** A FIFO lock: waiters are served in arrival order, so a pending commit cannot be overtaken forever. */
class FifoLock {
  private held = false;
  private readonly queue: Array<() => void> = [];
  lock(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push(resolve));
  }
  /** True when nobody waits for the lock. */
  idle(): boolean {
    return this.queue.length === 0;
  }
  unlock(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.held = false;
  }
}

/** One physical SQLite transaction shared by the logical transactions and writes that joined it. */
interface Batch {
  /** How many logical transactions and single writes joined it. */
  writers: number;
  done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A batch nobody waits for (its writers all failed) must not become an unhandled rejection.
  done.catch(() => undefined);
  return { writers: 0, done, resolve, reject };
}

/**
 * Group commit for SQLite. With `synchronous = FULL` every COMMIT is an fsync, and better-sqlite3 runs it on the
 * event loop: about 2 ms on this machine's disk, during which the whole process stands still, five or six times per
 * remote command. Here every logical transaction (and every write outside one) runs as a savepoint inside one
 * physical `BEGIN IMMEDIATE` transaction, committed as soon as no other writer is waiting for the connection: the
 * writers queued behind one another during a burst share one fsync. Durability is unchanged: no caller's
 * transaction (nor any query that ran inside the open batch, since it may have read what the batch has not made
 * durable yet) resolves before the COMMIT that covers it has returned; if that COMMIT fails, all of them fail. A
 * failing logical transaction rolls back only its own savepoint.
 */
class GroupCommitDriver implements Driver {
  private readonly lock = new FifoLock();
  private readonly connection: DatabaseConnection;
  private batch: Batch | null = null;
  /** The batch the current holder of the connection ran in (its release waits for that batch's commit). */
  private joined: Batch | null = null;
  private inLogical = false;
  private flushScheduled = false;

  private readonly prepared: ReturnType<typeof withStatementCache>;

  constructor(
    private readonly handle: SqliteHandle,
    private readonly options: GroupCommitOptions,
  ) {
    const prepared = (this.prepared = withStatementCache(handle));
    this.connection = {
      executeQuery: async <R>(query: CompiledQuery): Promise<QueryResult<R>> => {
        const stmt = prepared.prepare(query.sql);
        if (stmt.reader) {
          if (this.batch) this.joined = this.batch;
          return { rows: stmt.all(query.parameters as unknown[]) as R[] };
        }
        if (!this.inLogical) this.join();
        const { changes, lastInsertRowid } = stmt.run(query.parameters as unknown[]);
        return {
          numAffectedRows: changes !== undefined && changes !== null ? BigInt(changes) : undefined,
          insertId: lastInsertRowid !== undefined && lastInsertRowid !== null ? BigInt(lastInsertRowid) : undefined,
          rows: [],
        };
      },
      streamQuery: async function* <R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
        if (!SelectQueryNode.is(query.query))
          throw new Error('Sqlite driver only supports streaming of select queries');
        for (const row of prepared.prepare(query.sql).iterate(query.parameters as unknown[]))
          yield { rows: [row as R] };
      },
    };
  }

  private run(sql: string): void {
    this.prepared.prepare(sql).run([]);
  }

  /** Opens the physical transaction if none is open (or SQLite rolled it back on its own), and joins it. */
  private join(): void {
    if (this.batch && !this.handle.inTransaction) {
      // SQLite ended the transaction itself (an I/O error or a full disk rolls it back): its writers must fail.
      this.batch.reject(new Error('the SQLite transaction was rolled back by the database'));
      this.batch = null;
    }
    if (!this.batch) {
      this.run('begin immediate');
      this.batch = newBatch();
    }
    this.batch.writers++;
    this.joined = this.batch;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // After the current turn: whoever is already queued for the connection runs (and joins) first.
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    await this.lock.lock();
    this.flushScheduled = false;
    try {
      this.commitBatch();
    } finally {
      this.lock.unlock();
    }
  }

  /** Commits the open batch (the caller holds the lock): its writers resolve, or all fail with the commit. */
  private commitBatch(): void {
    const batch = this.batch;
    this.batch = null;
    if (!batch) return;
    try {
      if (!this.handle.inTransaction) throw new Error('the SQLite transaction was rolled back by the database');
      this.run('commit');
      this.options.onCommit?.(batch.writers);
      batch.resolve();
    } catch (err) {
      if (this.handle.inTransaction) this.run('rollback');
      batch.reject(err);
    }
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.lock.lock();
    this.joined = null;
    return this.connection;
  }

  async beginTransaction(): Promise<void> {
    this.join();
    this.run('savepoint group_commit');
    this.inLogical = true;
  }

  async commitTransaction(): Promise<void> {
    this.inLogical = false;
    this.run('release group_commit');
  }

  async rollbackTransaction(): Promise<void> {
    this.inLogical = false;
    // After SQLite rolled the whole transaction back itself there is no savepoint left to return to.
    if (!this.handle.inTransaction) return;
    this.run('rollback to group_commit');
    this.run('release group_commit');
  }

  async savepoint(conn: DatabaseConnection, name: string): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw(`savepoint ${quoted(name)}`));
  }

  async rollbackToSavepoint(conn: DatabaseConnection, name: string): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw(`rollback to ${quoted(name)}`));
  }

  async releaseSavepoint(conn: DatabaseConnection, name: string): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw(`release ${quoted(name)}`));
  }

  async releaseConnection(): Promise<void> {
    const wait = this.joined;
    this.joined = null;
    // Nobody waiting to join: commit now rather than hold the write lock idle until the next turn (another
    // connection to the file, in this process or another, would wait for it).
    if (wait && wait === this.batch && this.lock.idle()) this.commitBatch();
    this.lock.unlock();
    // Outside the lock, so the commit (and more writers joining before it) can take the connection.
    if (wait) await wait.done;
  }

  async destroy(): Promise<void> {
    await this.lock.lock();
    try {
      if (this.batch && this.handle.inTransaction) this.run('commit');
      this.batch?.resolve();
      this.batch = null;
    } finally {
      this.handle.close();
      this.lock.unlock();
    }
  }
}

/** Options of the group-commit dialect. */
export interface GroupCommitOptions {
  /** Called after each physical commit with the number of writers it made durable (metrics, tests). */
  onCommit?: (writers: number) => void;
}

/** Kysely's SQLite dialect over a better-sqlite3 handle, with group commit (see GroupCommitDriver). */
export class GroupCommitSqliteDialect extends SqliteDialect {
  constructor(
    private readonly handle: SqliteHandle,
    private readonly options: GroupCommitOptions = {},
  ) {
    super({ database: handle } as SqliteDialectConfig);
  }
  override createDriver(): Driver {
    return new GroupCommitDriver(this.handle, this.options);
  }
}
