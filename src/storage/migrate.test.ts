import type { Kysely } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { dropTestDatabase, testDatabaseSettings } from '../testing/index.js';
import { migrateToLatest, openStorage } from './index.js';

const migrations = {
  '0001_probe': {
    async up(db: Kysely<unknown>) {
      await db.schema.createTable('probe').addColumn('x', 'integer').execute();
    },
  },
};

// PostgreSQL only: a database shared with other deployments (or test runs) that create and drop schemas.
describe.skipIf(!process.env.DATABASE_URL)('migrations beside other schemas coming and going (postgres)', () => {
  it('migrates while another client creates and drops schemas', async () => {
    const url = process.env.DATABASE_URL!;
    const churn = new pg.Client({ connectionString: url });
    await churn.connect();
    let stop = false;
    const loop = (async () => {
      for (let i = 0; !stop; i++) {
        const name = `churn_${process.pid}_${i}`;
        await churn.query(
          `create schema "${name}"; create table "${name}".a (x int); create table "${name}".b (x int)`,
        );
        await churn.query(`drop schema "${name}" cascade`);
      }
    })();
    const settings = testDatabaseSettings('postgres');
    try {
      for (let round = 0; round < 40; round++) {
        const s = { ...settings, schema: `${settings.schema}_${round}` };
        const storage = await openStorage({ url, schema: s.schema, dataDir: '/tmp' });
        try {
          const report = await migrateToLatest(storage.db, migrations, { schema: s.schema });
          expect(report.applied).toEqual(['0001_probe']);
        } finally {
          await storage.close();
          await dropTestDatabase(s);
        }
      }
    } finally {
      stop = true;
      await loop;
      await churn.end();
    }
  });
});
