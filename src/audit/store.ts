import { type Insertable, type Kysely, type Selectable, sql } from 'kysely';
import type { Clock } from '../platform/index.js';
import { newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { AuditEvent, DetailValue, StoredAuditEvent } from './event.js';
import { redactSecrets } from './secret-guard.js';
import { pivotsOf } from './pivots.js';
import type { AuditEventRow } from './tables.js';

const EVENT_TYPE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

/** Filters for listing audit events; all are optional and combine with AND. */
export interface AuditQuery {
  type?: string;
  /** Matches `type` by prefix, e.g. `gateway.` or `pki.device.`. */
  typePrefix?: string;
  decision?: 'allow' | 'deny' | 'info';
  objectId?: string;
  actorId?: string;
  requestId?: string;
  /** Only events after this sequence number (for tailing). */
  afterSeq?: number;
  limit?: number;
}

/**
 * The audit log: append inside the caller's transaction, list for investigations. `T` is the event types
 * the holder may append; without it (`never`) nothing may be appended, so a module must declare its types.
 */
export interface AuditLog<T extends string = never> {
  /**
   * Appends an event. Pass the transaction that makes the change, so the change and its event commit
   * together or not at all. A property, not a method, so that the event type is checked contravariantly.
   */
  append: (db: Kysely<Database>, event: AuditEvent<T>) => Promise<void>;
  /** Lists events, newest first. */
  list(query?: AuditQuery): Promise<StoredAuditEvent[]>;
}

function toRow(event: AuditEvent, id: string, at: string): Insertable<AuditEventRow> {
  return {
    id,
    occurred_at: at,
    type: event.type,
    actor_type: event.actor.type,
    actor_id: event.actor.id ?? null,
    application_id: event.applicationId ?? null,
    tenant_id: event.tenantId ?? null,
    object_type: event.object?.type ?? null,
    object_id: event.object?.id ?? null,
    action: event.action,
    decision: event.decision,
    reason: event.reason ?? null,
    policy_version: event.policyVersion ?? null,
    request_id: event.context?.requestId ?? null,
    trace_id: event.context?.traceId ?? null,
    source_ip: event.context?.sourceIp ?? null,
    details: JSON.stringify(event.details ?? {}),
    prev_hash: null,
    hash: null,
  };
}

/** A stored row as the event every reader sees; the Merkle leaf is the canonical form of exactly this. */
export function fromRow(row: Selectable<AuditEventRow>): StoredAuditEvent {
  return {
    seq: row.seq,
    id: row.id,
    occurredAt: row.occurred_at,
    type: row.type,
    actor: { type: row.actor_type as StoredAuditEvent['actor']['type'], id: row.actor_id },
    applicationId: row.application_id,
    tenantId: row.tenant_id,
    // An id without a type is never written; shown rather than dropped, so an edit to it changes the leaf.
    object:
      row.object_type !== null || row.object_id !== null ? { type: row.object_type ?? '', id: row.object_id } : null,
    action: row.action,
    decision: row.decision as StoredAuditEvent['decision'],
    reason: row.reason,
    policyVersion: row.policy_version,
    context: { requestId: row.request_id, traceId: row.trace_id, sourceIp: row.source_ip },
    details: JSON.parse(row.details) as Record<string, DetailValue>,
  };
}

/**
 * Creates the audit log over the platform database, for the event types `T` (the composition root passes the
 * union of every module's). Untyped callers (tools, tests) get `string`, and the name pattern guards them.
 */
export function createAuditLog<T extends string = string>(deps: { db: Kysely<Database>; clock: Clock }): AuditLog<T> {
  return {
    async append(db, event) {
      if (!EVENT_TYPE.test(event.type)) throw new Error(`invalid audit event type "${event.type}"`);
      const { fields, details } = redactSecrets(
        {
          reason: event.reason ?? undefined,
          action: event.action,
          actorId: event.actor.id ?? undefined,
          objectId: event.object?.id ?? undefined,
          applicationId: event.applicationId ?? undefined,
          tenantId: event.tenantId ?? undefined,
        },
        event.details ?? {},
      );
      event = {
        ...event,
        action: fields.action,
        details,
        ...(fields.reason !== undefined ? { reason: fields.reason } : {}),
        ...(fields.applicationId !== undefined ? { applicationId: fields.applicationId } : {}),
        ...(fields.tenantId !== undefined ? { tenantId: fields.tenantId } : {}),
        actor: { ...event.actor, ...(fields.actorId !== undefined ? { id: fields.actorId } : {}) },
        ...(event.object ? { object: { ...event.object, id: fields.objectId ?? null } } : {}),
      };
      const row = toRow(event, newId(), deps.clock.now().toISOString());
      const pivots = pivotsOf(event);
      if (pivots.length === 0) {
        await db.insertInto('audit_events').values(row).execute();
        return;
      }
      // The pivots commit with their event: inside the caller's transaction, or in one of their own.
      const write = async (trx: Kysely<Database>) => {
        const { seq } = await trx.insertInto('audit_events').values(row).returning('seq').executeTakeFirstOrThrow();
        const at = row.occurred_at;
        await trx
          .insertInto('audit_pivots')
          .values(pivots.map((p) => ({ ...p, occurred_at: at, event_seq: Number(seq) })))
          .execute();
      };
      await (db.isTransaction ? write(db) : db.transaction().execute(write));
    },

    async list(query = {}) {
      let q = deps.db.selectFrom('audit_events').selectAll();
      if (query.type) q = q.where('type', '=', query.type);
      // substr instead of LIKE: event names contain `_`, which LIKE treats as a wildcard.
      if (query.typePrefix)
        q = q.where(sql<string>`substr(type, 1, ${query.typePrefix.length})`, '=', query.typePrefix);
      if (query.decision) q = q.where('decision', '=', query.decision);
      if (query.objectId) q = q.where('object_id', '=', query.objectId);
      if (query.actorId) q = q.where('actor_id', '=', query.actorId);
      if (query.requestId) q = q.where('request_id', '=', query.requestId);
      if (query.afterSeq !== undefined) q = q.where('seq', '>', query.afterSeq);
      const rows = await q
        .orderBy('seq', 'desc')
        .limit(Math.min(Math.max(query.limit ?? 100, 1), 1000))
        .execute();
      return rows.map(fromRow);
    },
  };
}
