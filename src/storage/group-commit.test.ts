import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { GroupCommitSqliteDialect } from './group-commit.js';

interface T {
  t: { v: string };
  child: { parent: string };
}
const closing: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closing.splice(0).reverse()) await c();
});

async function open() {
  const dir = mkdtempSync(join(tmpdir(), 'carapace-gc-'));
  const file = join(dir, 'db.sqlite');
  const handle = new SQLite(file);
  handle.pragma('journal_mode = WAL');
  handle.pragma('synchronous = FULL');
  handle.pragma('foreign_keys = ON');
  const commits = { count: 0, writers: 0 };
  const onCommit = (writers: number) => {
    commits.count++;
    commits.writers += writers;
  };
  const db = new Kysely<T>({ dialect: new GroupCommitSqliteDialect(handle, { onCommit }) });
  await sql`create table t (v text primary key)`.execute(db);
  await sql`create table child (parent text references t(v) deferrable initially deferred)`.execute(db);
  // Another process's view of the file: what it sees is what is committed.
  const other = new SQLite(file, { readonly: true });
  closing.push(async () => {
    other.close();
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  const committed = () => (other.prepare('select v from t order by v').all() as Array<{ v: string }>).map((r) => r.v);
  Object.assign(commits, { count: 0, writers: 0 });
  return { db, commits, committed };
}

describe('SQLite group commit', () => {
  it('concurrent transactions share commits, and each resolves only once its rows are committed', async () => {
    const { db, commits, committed } = await open();
    const seenAtResolve: boolean[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        db
          .transaction()
          .execute((trx) =>
            trx
              .insertInto('t')
              .values({ v: `v${String(i).padStart(2, '0')}` })
              .execute(),
          )
          .then(() => seenAtResolve.push(committed().includes(`v${String(i).padStart(2, '0')}`))),
      ),
    );
    expect(seenAtResolve).toEqual(Array.from({ length: 20 }, () => true));
    expect(committed()).toHaveLength(20);
    expect(commits.writers).toBe(20);
    expect(commits.count).toBeLessThan(20);
  });

  it('a write outside a transaction joins the batch and is committed before it resolves', async () => {
    const { db, committed } = await open();
    const writes = Array.from({ length: 5 }, (_, i) =>
      db
        .insertInto('t')
        .values({ v: `w${i}` })
        .execute()
        .then(() => committed().includes(`w${i}`)),
    );
    expect(await Promise.all(writes)).toEqual([true, true, true, true, true]);
  });

  it('a read that may have seen uncommitted rows resolves only after they are committed', async () => {
    const { db, committed } = await open();
    const write = db.transaction().execute((trx) => trx.insertInto('t').values({ v: 'r1' }).execute());
    const read = db
      .selectFrom('t')
      .select('v')
      .execute()
      .then((rows) => ({ rows: rows.map((r) => r.v), committed: committed() }));
    await write;
    const seen = await read;
    for (const v of seen.rows) expect(seen.committed).toContain(v);
  });

  it('a failing transaction rolls back only its own work; the others in its batch commit', async () => {
    const { db, committed } = await open();
    const results = await Promise.allSettled([
      db.transaction().execute((trx) => trx.insertInto('t').values({ v: 'ok1' }).execute()),
      db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ v: 'bad' }).execute();
        throw new Error('business rule');
      }),
      db.transaction().execute((trx) => trx.insertInto('t').values({ v: 'ok1' }).execute()),
      db.transaction().execute((trx) => trx.insertInto('t').values({ v: 'ok2' }).execute()),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect(committed()).toEqual(['ok1', 'ok2']);
  });

  it('when the commit itself fails, every transaction of the batch fails and none of their rows exist', async () => {
    const { db, committed } = await open();
    // A deferred foreign key is checked at COMMIT: the one way to make a commit fail on demand.
    const results = await Promise.allSettled([
      db.transaction().execute((trx) => trx.insertInto('t').values({ v: 'innocent' }).execute()),
      db.transaction().execute((trx) => trx.insertInto('child').values({ parent: 'nobody' }).execute()),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(committed()).toEqual([]);
    await db.insertInto('t').values({ v: 'after' }).execute();
    expect(committed()).toEqual(['after']);
  });
});
