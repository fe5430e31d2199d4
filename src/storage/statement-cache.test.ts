import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { withStatementCache } from './statement-cache.js';

describe('the SQLite statement cache', () => {
  const handles: SQLite.Database[] = [];
  const open = () => {
    const h = new SQLite(':memory:');
    handles.push(h);
    return h;
  };
  afterEach(() => {
    for (const h of handles.splice(0)) if (h.open) h.close();
  });

  it('hands out the same statement for the same SQL and a new one for other SQL', () => {
    const db = withStatementCache(open());
    const a = db.prepare('select 1 as x');
    expect(db.prepare('select 1 as x')).toBe(a);
    expect(db.prepare('select 2 as x')).not.toBe(a);
  });

  it('evicts the least recently used statement beyond its limit', () => {
    const db = withStatementCache(open(), 2);
    const one = db.prepare('select 1');
    const two = db.prepare('select 2');
    expect(db.prepare('select 1')).toBe(one);
    db.prepare('select 3');
    expect(db.prepare('select 1')).toBe(one);
    expect(db.prepare('select 2')).not.toBe(two);
  });

  it('never hands out a statement that is still iterating', () => {
    const h = open();
    h.exec('create table t (v integer); insert into t values (1), (2), (3)');
    const db = withStatementCache(h);
    const first = db.prepare('select v from t order by v') as unknown as SQLite.Statement;
    const rows = first.iterate();
    rows.next();
    const second = db.prepare('select v from t order by v') as unknown as SQLite.Statement;
    expect(second).not.toBe(first);
    expect(second.all()).toEqual([{ v: 1 }, { v: 2 }, { v: 3 }]);
    expect([...rows]).toEqual([{ v: 2 }, { v: 3 }]);
  });

  it('answers correctly through Kysely, parameters included, after the schema under a cached statement changes', async () => {
    const db = new Kysely<{ t: { v: number; w: string } }>({
      dialect: new SqliteDialect({ database: withStatementCache(open()) }),
    });
    await sql`create table t (v integer)`.execute(db);
    await sql`insert into t (v) values (${1}), (${2})`.execute(db);
    const read = (min: number) => sql<{ v: number }>`select * from t where v >= ${min} order by v`.execute(db);
    expect((await read(2)).rows).toEqual([{ v: 2 }]);
    expect((await read(1)).rows).toEqual([{ v: 1 }, { v: 2 }]);
    await sql`alter table t add column w text default 'x'`.execute(db);
    expect((await read(2)).rows).toEqual([{ v: 2, w: 'x' }]);
    await db.destroy();
  });
});
