import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrateDatabase } from '../server/index.js';
import { openStorage, type Storage } from '../storage/index.js';

/** A database engine a test can run against. */
export interface TestDatabase {
  readonly name: 'sqlite' | 'postgres';
  /** Opens a fresh, migrated, isolated database; closing it removes it. */
  open(): Promise<Storage & { dataDir: string }>;
}

let counter = 0;

function uniqueSchema(): string {
  return `t_${process.pid}_${Date.now().toString(36)}_${(counter++).toString(36)}`;
}

/** Where a test that opens storage itself keeps its data on `engine`: a fresh PostgreSQL schema, or SQLite. */
export function testDatabaseSettings(engine: 'sqlite' | 'postgres'): { url: string | null; schema: string } {
  if (engine === 'sqlite') return { url: null, schema: 'public' };
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set');
  return { url, schema: uniqueSchema() };
}

/** Removes what testDatabaseSettings handed out (the PostgreSQL schema; SQLite lives in the data directory). */
export async function dropTestDatabase(settings: { url: string | null; schema: string }): Promise<void> {
  if (settings.url) await dropSchema(settings.url, settings.schema);
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** SQLite always; PostgreSQL too whenever DATABASE_URL is set (CI sets it). */
export function testDatabases(): TestDatabase[] {
  const list: TestDatabase[] = [
    {
      name: 'sqlite',
      async open() {
        const dataDir = mkdtempSync(join(tmpdir(), 'carapace-test-'));
        const storage = await openStorage({ url: null, schema: 'public', dataDir });
        await migrateDatabase(storage.db, { schema: storage.schema });
        return {
          ...storage,
          dataDir,
          async close() {
            await storage.close();
            rmSync(dataDir, { recursive: true, force: true });
          },
        };
      },
    },
  ];
  const url = process.env.DATABASE_URL;
  if (url) {
    list.push({
      name: 'postgres',
      async open() {
        const dataDir = mkdtempSync(join(tmpdir(), 'carapace-test-'));
        const schema = uniqueSchema();
        const storage = await openStorage({ url, schema, dataDir });
        await migrateDatabase(storage.db, { schema: storage.schema });
        return {
          ...storage,
          dataDir,
          async close() {
            await storage.close();
            await dropSchema(url, schema);
            rmSync(dataDir, { recursive: true, force: true });
          },
        };
      },
    });
  }
  return list;
}
