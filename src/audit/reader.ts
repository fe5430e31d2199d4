import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import type { StoredAuditEvent } from './event.js';
import { fromRow } from './store.js';

/** The most one read returns. */
const READ_LIMIT = 1000;
const bounded = (limit: number) => Math.min(Math.max(limit, 1), READ_LIMIT);

/**
 * Committed events with `seq` above `afterSeq`, in seq order, as they are written (no wait for the sealer). On
 * PostgreSQL a lower seq can commit after a higher one was read: a reader that must see every event keeps the
 * seqs it skipped and asks for them again with `readAuditEventsBySeqs`.
 */
export async function readAuditEventsAfter(
  db: Kysely<Database>,
  afterSeq: number,
  limit: number,
): Promise<StoredAuditEvent[]> {
  const rows = await db
    .selectFrom('audit_events')
    .selectAll()
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(bounded(limit))
    .execute();
  return rows.map(fromRow);
}

/** The committed events among `seqs` (at most 1000), in seq order. */
export async function readAuditEventsBySeqs(
  db: Kysely<Database>,
  seqs: readonly number[],
): Promise<StoredAuditEvent[]> {
  if (seqs.length === 0) return [];
  const rows = await db
    .selectFrom('audit_events')
    .selectAll()
    .where('seq', 'in', seqs.slice(0, READ_LIMIT))
    .orderBy('seq')
    .execute();
  return rows.map(fromRow);
}

/** The events with these ids (at most 1000), in seq order. */
export async function readAuditEventsByIds(db: Kysely<Database>, ids: readonly string[]): Promise<StoredAuditEvent[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('audit_events')
    .selectAll()
    .where('id', 'in', ids.slice(0, READ_LIMIT))
    .orderBy('seq')
    .execute();
  return rows.map(fromRow);
}

/** Committed events with `seq` below `beforeSeq`, newest first: to page back through the recent trail. */
export async function readAuditEventsBefore(
  db: Kysely<Database>,
  beforeSeq: number,
  limit: number,
): Promise<StoredAuditEvent[]> {
  const rows = await db
    .selectFrom('audit_events')
    .selectAll()
    .where('seq', '<', beforeSeq)
    .orderBy('seq', 'desc')
    .limit(bounded(limit))
    .execute();
  return rows.map(fromRow);
}

/** The highest committed seq (0 when the trail is empty). */
export async function latestAuditSeq(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('audit_events')
    .select((eb) => eb.fn.max('seq').as('seq'))
    .executeTakeFirst();
  return Number(row?.seq ?? 0);
}

/**
 * How many denials of one event type in a window carry `details.<flag> = true` (e.g. `authz.decision` denials
 * marked `crossTenant`). Details are stored as JSON text written by `JSON.stringify`, so the flag reads
 * `"<flag>":true` in it; a flag name is an identifier, never user input.
 */
export async function countFlaggedDenials(
  db: Kysely<Database>,
  query: { type: string; flag: string; from: string; to: string },
): Promise<number> {
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(query.flag)) throw new Error(`not a detail name: ${query.flag}`);
  const row = await db
    .selectFrom('audit_events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('type', '=', query.type)
    .where('decision', '=', 'deny')
    .where('occurred_at', '>=', query.from)
    .where('occurred_at', '<=', query.to)
    .where('details', 'like', `%"${query.flag}":true%`)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
