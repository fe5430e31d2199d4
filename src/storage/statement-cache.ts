import type { Database as SqliteHandle, Statement } from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

/**
 * A better-sqlite3 handle whose `prepare` reuses statements by SQL text. Kysely's SQLite driver prepares every
 * query again; the SQL of a query-builder call is the same text on every request (parameters are bound), so the
 * hot paths (authorization lookups, audit appends, telemetry writes) pay SQLite's parse and plan once. A statement
 * that is mid-iteration (`busy`, a streamed query) is never handed out twice: a fresh one is prepared instead.
 * SQLite re-prepares a cached statement by itself after a schema change, so migrations need no invalidation.
 */
export function withStatementCache(handle: SqliteHandle, limit = 512): SqliteDatabase {
  const cache = new Map<string, Statement>();
  return {
    close: () => {
      cache.clear();
      handle.close();
    },
    prepare: (sql: string) => {
      const hit = cache.get(sql);
      if (hit && !hit.busy) {
        // Map order is insertion order: re-inserting marks the statement most recently used.
        cache.delete(sql);
        cache.set(sql, hit);
        return hit;
      }
      const stmt = handle.prepare(sql);
      if (hit) return stmt;
      cache.set(sql, stmt);
      if (cache.size > limit) cache.delete(cache.keys().next().value as string);
      return stmt;
    },
  };
}
