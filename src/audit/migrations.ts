import { makeAppendOnly } from '../storage/index.js';
import { type Kysely, type Migration, sql } from 'kysely';
import { dialectOf } from '../storage/index.js';
import type { DetailValue } from './event.js';
import { MerkleFrontier } from './merkle.js';
import { pivotsOf } from './pivots.js';
import { NODE_MIN } from './proof-tree.js';

/** The highest prune horizon: leaves below it may be deleted, nothing else. */
const HORIZON = '(SELECT coalesce(max(horizon), 0) FROM audit_prunes)';
/** An active legal hold covers the row being deleted: never deleted, whatever the horizon. */
const HELD =
  'EXISTS (SELECT 1 FROM audit_holds h WHERE NOT EXISTS (SELECT 1 FROM audit_hold_releases r WHERE r.hold_id = h.id) ' +
  'AND ((h.from_seq IS NOT NULL AND OLD.seq BETWEEN h.from_seq AND h.to_seq) ' +
  'OR (h.from_time IS NOT NULL AND OLD.occurred_at BETWEEN h.from_time AND h.to_time)))';
/** May this audit_events row go: sealed below the recorded horizon and not held. */
const EVENT_PRUNABLE =
  'EXISTS (SELECT 1 FROM audit_leaves l WHERE l.event_seq = OLD.seq AND l.leaf_index < ' +
  `${HORIZON}) AND NOT ${HELD}`;
const LEAF_PRUNABLE = `OLD.leaf_index < ${HORIZON}`;
/** A pivot row is an index of its event, not evidence: it may go once its event has gone (by a prune). */
const PIVOT_PRUNABLE = 'NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.seq = OLD.event_seq)';

async function createRetentionTables(db: Kysely<unknown>, int: 'bigint' | 'integer'): Promise<void> {
  await db.schema
    .createTable('audit_prunes')
    .addColumn('horizon', int, (c) => c.primaryKey())
    .addColumn('root_hash', 'text', (c) => c.notNull())
    .addColumn('max_seq', int, (c) => c.notNull())
    .addColumn('events', int, (c) => c.notNull())
    .addColumn('pruned_at', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('audit_pruned_nodes')
    .addColumn('start_leaf', int, (c) => c.notNull())
    .addColumn('size', int, (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('audit_pruned_nodes_pk', ['start_leaf', 'size'])
    .execute();
  await db.schema
    .createTable('audit_holds')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('from_seq', int)
    .addColumn('to_seq', int)
    .addColumn('from_time', 'text')
    .addColumn('to_time', 'text')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('audit_hold_releases')
    .addColumn('hold_id', 'text', (c) => c.primaryKey())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('released_by', 'text', (c) => c.notNull())
    .addColumn('released_at', 'text', (c) => c.notNull())
    .execute();
}

/** SQLite: the delete triggers keep their names and gain a WHEN clause that lets only a recorded prune through. */
async function sqliteDeleteBelowHorizon(db: Kysely<unknown>): Promise<void> {
  for (const [table, prunable] of [
    ['audit_events', EVENT_PRUNABLE],
    ['audit_leaves', LEAF_PRUNABLE],
    ['audit_pivots', PIVOT_PRUNABLE],
  ] as const) {
    await sql.raw(`DROP TRIGGER ${table}_no_delete`).execute(db);
    await sql
      .raw(
        `CREATE TRIGGER ${table}_no_delete BEFORE DELETE ON ${table} WHEN NOT (${prunable}) ` +
          `BEGIN SELECT RAISE(ABORT, '${table} is append-only'); END`,
      )
      .execute(db);
  }
}

/** PostgreSQL: the trigger functions are replaced in place (same triggers, same names); TRUNCATE stays refused. */
async function postgresDeleteBelowHorizon(db: Kysely<unknown>): Promise<void> {
  for (const [table, prunable] of [
    ['audit_events', EVENT_PRUNABLE],
    ['audit_leaves', LEAF_PRUNABLE],
    ['audit_pivots', PIVOT_PRUNABLE],
  ] as const) {
    await sql
      .raw(
        `CREATE OR REPLACE FUNCTION ${table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ` +
          `IF TG_OP = 'DELETE' AND ${prunable} THEN RETURN OLD; END IF; ` +
          `RAISE EXCEPTION '${table} is append-only'; END $$`,
      )
      .execute(db);
  }
}

/** Audit schema: append-only tables (events, then the Merkle leaves and checkpoints), guarded by triggers. */
export const auditMigrations: Record<string, Migration> = {
  '0001_audit_events': {
    async up(db: Kysely<unknown>) {
      const pg = dialectOf(db) === 'postgres';
      await db.schema
        .createTable('audit_events')
        .addColumn('seq', pg ? 'bigint' : 'integer', (c) =>
          pg ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement(),
        )
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('occurred_at', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('actor_type', 'text', (c) => c.notNull())
        .addColumn('actor_id', 'text')
        .addColumn('application_id', 'text')
        .addColumn('tenant_id', 'text')
        .addColumn('object_type', 'text')
        .addColumn('object_id', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('decision', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('policy_version', 'text')
        .addColumn('request_id', 'text')
        .addColumn('trace_id', 'text')
        .addColumn('source_ip', 'text')
        .addColumn('details', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('prev_hash', 'text')
        .addColumn('hash', 'text')
        .execute();
      await db.schema
        .createIndex('audit_events_type_time')
        .on('audit_events')
        .columns(['type', 'occurred_at'])
        .execute();
      await db.schema
        .createIndex('audit_events_object')
        .on('audit_events')
        .columns(['object_type', 'object_id'])
        .execute();
      await db.schema
        .createIndex('audit_events_actor')
        .on('audit_events')
        .columns(['actor_type', 'actor_id'])
        .execute();
      await makeAppendOnly(db, 'audit_events', pg);
    },
  },
  '0012_audit_evidence': {
    async up(db: Kysely<unknown>) {
      const pg = dialectOf(db) === 'postgres';
      const int = pg ? 'bigint' : 'integer';
      await db.schema
        .createTable('audit_leaves')
        .addColumn('leaf_index', int, (c) => c.primaryKey())
        .addColumn('event_seq', int, (c) => c.notNull().unique())
        .addColumn('leaf_hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('audit_checkpoints')
        .addColumn('tree_size', int, (c) => c.primaryKey())
        .addColumn('root_hash', 'text', (c) => c.notNull())
        .addColumn('signed_at', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .execute();
      await makeAppendOnly(db, 'audit_leaves', pg);
      await makeAppendOnly(db, 'audit_checkpoints', pg);
    },
  },
  '0014_audit_pivots': {
    async up(db: Kysely<unknown>) {
      const pg = dialectOf(db) === 'postgres';
      await db.schema
        .createTable('audit_pivots')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('occurred_at', 'text', (c) => c.notNull())
        .addColumn('event_seq', pg ? 'bigint' : 'integer', (c) => c.notNull())
        .execute();
      // One range per pivot and window: the investigation's seed query and each hop read exactly this.
      await db.schema
        .createIndex('audit_pivots_lookup')
        .on('audit_pivots')
        .columns(['kind', 'value', 'occurred_at', 'event_seq'])
        .execute();
      // The pivots that are columns of the event itself: each with its time, so a window is a range too.
      for (const [name, columns] of COLUMN_PIVOT_INDEXES)
        await db.schema.createIndex(name).on('audit_events').columns(columns).execute();
      await backfillPivots(db as Kysely<PivotBackfill>);
      await makeAppendOnly(db, 'audit_pivots', pg);
    },
  },
  '0016_audit_retention': {
    async up(db: Kysely<unknown>) {
      const pg = dialectOf(db) === 'postgres';
      await createRetentionTables(db, pg ? 'bigint' : 'integer');
      for (const t of ['audit_prunes', 'audit_pruned_nodes', 'audit_holds', 'audit_hold_releases'] as const)
        await makeAppendOnly(db, t, pg);
      await (pg ? postgresDeleteBelowHorizon(db) : sqliteDeleteBelowHorizon(db));
    },
  },
  '0017_audit_nodes': {
    async up(db: Kysely<unknown>) {
      const pg = dialectOf(db) === 'postgres';
      const int = pg ? 'bigint' : 'integer';
      await db.schema
        .createTable('audit_nodes')
        .addColumn('start_leaf', int, (c) => c.notNull())
        .addColumn('size', int, (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_nodes_pk', ['start_leaf', 'size'])
        .execute();
      await backfillNodes(db as Kysely<NodeBackfill>);
      await makeAppendOnly(db, 'audit_nodes', pg);
    },
  },
  '0018_audit_hold_signatures': {
    async up(db: Kysely<unknown>) {
      // Holds and releases are signed by the audit key, as prunes are: a row anyone can append must not be able to
      // release a hold, and an edited hold must not narrow what pruning keeps (src/audit/holds.ts, holdStates).
      for (const table of ['audit_holds', 'audit_hold_releases'])
        for (const column of ['key_id', 'signature'])
          await db.schema.alterTable(table).addColumn(column, 'text').execute();
    },
  },
};

/** The columns the node backfill reads and writes (a migration must not depend on later types). */
interface NodeBackfill {
  audit_leaves: { leaf_index: number; leaf_hash: string };
  audit_prunes: { horizon: number };
  audit_nodes: { start_leaf: number; size: number; hash: string };
}

/**
 * Stores the perfect subtrees of a tree sealed before this migration, from its leaves in pages. A pruned prefix
 * has no leaves left, so there it starts at the next multiple of NODE_MIN and stores only the subtrees aligned in
 * the whole tree; one it cannot build is rebuilt from its leaves when a proof needs it.
 */
async function backfillNodes(db: Kysely<NodeBackfill>): Promise<void> {
  const h = await db
    .selectFrom('audit_prunes')
    .select((e) => e.fn.max('horizon').as('h'))
    .executeTakeFirst();
  const horizon = Number(h?.h ?? 0);
  const start = Math.ceil(horizon / NODE_MIN) * NODE_MIN;
  const tree = new MerkleFrontier();
  for (let after = start - 1; ;) {
    const rows = await db
      .selectFrom('audit_leaves')
      .select(['leaf_index', 'leaf_hash'])
      .where('leaf_index', '>', after)
      .orderBy('leaf_index')
      .limit(10_000)
      .execute();
    if (rows.length === 0) return;
    const nodes: { start_leaf: number; size: number; hash: string }[] = [];
    for (const r of rows)
      tree.push(Buffer.from(r.leaf_hash, 'hex'), (s, size, hash) => {
        // Offsets are from `start`: only subtrees aligned in the whole tree are the tree's nodes.
        const abs = start + s;
        if (size >= NODE_MIN && abs % size === 0) nodes.push({ start_leaf: abs, size, hash: hash.toString('hex') });
      });
    for (let i = 0; i < nodes.length; i += 500)
      await db
        .insertInto('audit_nodes')
        .values(nodes.slice(i, i + 500))
        .execute();
    after = Number(rows.at(-1)!.leaf_index);
  }
}

const COLUMN_PIVOT_INDEXES: [string, string[]][] = [
  ['audit_events_request', ['request_id']],
  ['audit_events_trace', ['trace_id']],
  ['audit_events_actor_time', ['actor_type', 'actor_id', 'occurred_at']],
  ['audit_events_application_time', ['application_id', 'occurred_at']],
  ['audit_events_source_time', ['source_ip', 'occurred_at']],
  ['audit_events_time', ['occurred_at']],
];

/** The columns the backfill reads and writes, typed here because a migration must not depend on later types. */
interface PivotBackfill {
  audit_events: {
    seq: number;
    occurred_at: string;
    actor_type: string;
    actor_id: string | null;
    object_type: string | null;
    object_id: string | null;
    details: string;
  };
  audit_pivots: { kind: string; value: string; occurred_at: string; event_seq: number };
}

/** Indexes the events written before this migration, in pages, so an upgraded trail is searchable too. */
async function backfillPivots(db: Kysely<PivotBackfill>): Promise<void> {
  for (let after = -1; ;) {
    const rows = await db
      .selectFrom('audit_events')
      .select(['seq', 'occurred_at', 'actor_type', 'actor_id', 'object_type', 'object_id', 'details'])
      .where('seq', '>', after)
      .orderBy('seq')
      .limit(1000)
      .execute();
    if (rows.length === 0) return;
    const pivots = rows.flatMap((r) =>
      pivotsOf({
        actor: { type: r.actor_type as 'device', id: r.actor_id },
        object: r.object_type !== null ? { type: r.object_type, id: r.object_id } : null,
        details: JSON.parse(r.details) as Record<string, DetailValue>,
      }).map((p) => ({ ...p, occurred_at: r.occurred_at, event_seq: Number(r.seq) })),
    );
    for (let i = 0; i < pivots.length; i += 500)
      await db
        .insertInto('audit_pivots')
        .values(pivots.slice(i, i + 500))
        .execute();
    after = Number(rows.at(-1)!.seq);
  }
}
