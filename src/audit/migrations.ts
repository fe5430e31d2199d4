import { makeAppendOnly } from '../storage/index.js';
import type { Kysely, Migration } from 'kysely';
import { dialectOf } from '../storage/index.js';
import type { DetailValue } from './event.js';
import { pivotsOf } from './pivots.js';

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
};

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
