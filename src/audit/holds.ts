import type { Kysely, Selectable } from 'kysely';
import { CarapaceError, type Clock, newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { AuditAuditLog } from './audit-events.js';
import type { ActorType, RequestContext } from './event.js';
import type { AuditHoldReleaseRow, AuditHoldRow } from './tables.js';

/** Who acts on a hold, and from where: recorded on the hold and in its audit event. */
export interface HoldActor {
  actor: { type: ActorType; id: string | null };
  context?: RequestContext | null;
}

/** A legal hold: a seq range or a time window (inclusive) that pruning keeps, until it is released. */
export interface LegalHold {
  id: string;
  fromSeq: number | null;
  toSeq: number | null;
  from: string | null;
  to: string | null;
  reason: string;
  createdBy: string;
  createdAt: string;
  released: { by: string; at: string; reason: string } | null;
}

/** What a new hold covers: exactly one of a seq range or a time window. */
export interface HoldRange {
  fromSeq?: number;
  toSeq?: number;
  from?: string;
  to?: string;
}

/** Places, lists and releases legal holds; each change is audited in its own transaction. */
export interface AuditHolds {
  add(range: HoldRange & { reason: string }, by: HoldActor): Promise<LegalHold>;
  list(): Promise<LegalHold[]>;
  release(id: string, reason: string, by: HoldActor): Promise<LegalHold>;
}

const invalid = (field: string, message: string) => new CarapaceError('ERR_VALIDATION', message, { field });

function isoOf(value: string, field: string): string {
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw invalid(field, `${field} is not a timestamp`);
  // Stored in the events' own ISO form, so the trigger and the pruner compare text with text.
  return new Date(t).toISOString();
}

/** Checks a hold's range: one kind only, both ends, in order. */
function normalized(r: HoldRange): Pick<AuditHoldRow, 'from_seq' | 'to_seq' | 'from_time' | 'to_time'> {
  const bySeq = r.fromSeq !== undefined || r.toSeq !== undefined;
  const byTime = r.from !== undefined || r.to !== undefined;
  if (bySeq === byTime) throw invalid('body', 'give a seq range (fromSeq, toSeq) or a time window (from, to)');
  if (bySeq) {
    if (r.fromSeq === undefined || r.toSeq === undefined) throw invalid('toSeq', 'a seq range needs both ends');
    if (r.fromSeq > r.toSeq) throw invalid('fromSeq', 'fromSeq is after toSeq');
    return { from_seq: r.fromSeq, to_seq: r.toSeq, from_time: null, to_time: null };
  }
  if (r.from === undefined || r.to === undefined) throw invalid('to', 'a time window needs both ends');
  const [from, to] = [isoOf(r.from, 'from'), isoOf(r.to, 'to')];
  if (from > to) throw invalid('from', 'from is after to');
  return { from_seq: null, to_seq: null, from_time: from, to_time: to };
}

function view(h: Selectable<AuditHoldRow>, r: Selectable<AuditHoldReleaseRow> | undefined): LegalHold {
  const num = (v: number | null) => (v === null ? null : Number(v));
  return {
    id: h.id,
    fromSeq: num(h.from_seq),
    toSeq: num(h.to_seq),
    from: h.from_time,
    to: h.to_time,
    reason: h.reason,
    createdBy: h.created_by,
    createdAt: h.created_at,
    released: r ? { by: r.released_by, at: r.released_at, reason: r.reason } : null,
  };
}

const actorName = (by: HoldActor) => `${by.actor.type}:${by.actor.id ?? '-'}`;

/** Creates the legal-hold service over the audit tables. */
export function createAuditHolds(deps: { db: Kysely<Database>; audit: AuditAuditLog; clock: Clock }): AuditHolds {
  const { db } = deps;
  const find = async (trx: Kysely<Database>, id: string) => {
    const h = await trx.selectFrom('audit_holds').selectAll().where('id', '=', id).executeTakeFirst();
    if (!h) throw new CarapaceError('ERR_NOT_FOUND', 'no such legal hold', { holdId: id });
    const r = await trx.selectFrom('audit_hold_releases').selectAll().where('hold_id', '=', id).executeTakeFirst();
    return view(h, r);
  };
  const event = (hold: LegalHold, by: HoldActor, released: boolean) => ({
    type: released ? ('audit.hold.released' as const) : ('audit.hold.added' as const),
    actor: by.actor,
    object: { type: 'audit_hold', id: hold.id },
    action: released ? 'audit:hold:release' : 'audit:hold:add',
    decision: 'info' as const,
    reason: released ? (hold.released?.reason ?? null) : hold.reason,
    context: by.context ?? null,
    details: { fromSeq: hold.fromSeq, toSeq: hold.toSeq, from: hold.from, to: hold.to },
  });

  return {
    add: (range, by) =>
      db.transaction().execute(async (trx) => {
        if (range.reason.trim() === '') throw invalid('reason', 'a hold needs a reason');
        const row = {
          id: newId(),
          ...normalized(range),
          reason: range.reason,
          created_by: actorName(by),
          created_at: deps.clock.now().toISOString(),
        };
        await trx.insertInto('audit_holds').values(row).execute();
        const hold = view(row, undefined);
        await deps.audit.append(trx, event(hold, by, false));
        return hold;
      }),
    async list() {
      const holds = await db.selectFrom('audit_holds').selectAll().orderBy('created_at').execute();
      const releases = await db.selectFrom('audit_hold_releases').selectAll().execute();
      const byId = new Map(releases.map((r) => [r.hold_id, r]));
      return holds.map((h) => view(h, byId.get(h.id)));
    },
    release: (id, reason, by) =>
      db.transaction().execute(async (trx) => {
        const hold = await find(trx, id);
        if (hold.released) throw new CarapaceError('ERR_CONFLICT', 'the hold was already released', { holdId: id });
        const released = {
          hold_id: id,
          reason,
          released_by: actorName(by),
          released_at: deps.clock.now().toISOString(),
        };
        await trx.insertInto('audit_hold_releases').values(released).execute();
        const after = { ...hold, released: { by: released.released_by, at: released.released_at, reason } };
        await deps.audit.append(trx, event(after, by, true));
        return after;
      }),
  };
}
