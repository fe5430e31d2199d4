import { type KeyObject, verify } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { CarapaceError, type Clock, newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { canonicalJson } from '../wire/index.js';
import type { AuditAuditLog } from './audit-events.js';
import type { ActorType, RequestContext } from './event.js';
import type { AuditSigner } from './signing-key.js';
import type { AuditHoldReleaseRow, AuditHoldRow } from './tables.js';

/** Name what a hold's and a release's signatures are over, so neither is mistaken for another signature. */
export const HOLD_ORIGIN = 'carapace-audit-hold/v1';
export const HOLD_RELEASE_ORIGIN = 'carapace-audit-hold-release/v1';

type HoldFacts = Omit<Selectable<AuditHoldRow>, 'key_id' | 'signature'>;
type ReleaseFacts = Omit<Selectable<AuditHoldReleaseRow>, 'key_id' | 'signature'>;

const holdFacts = (h: HoldFacts) => ({
  id: h.id,
  fromSeq: h.from_seq === null ? null : Number(h.from_seq),
  toSeq: h.to_seq === null ? null : Number(h.to_seq),
  from: h.from_time,
  to: h.to_time,
  reason: h.reason,
  createdBy: h.created_by,
  createdAt: h.created_at,
});

/** The exact bytes a hold's signature covers. */
export const holdBody = (h: HoldFacts): string => canonicalJson({ origin: HOLD_ORIGIN, ...holdFacts(h) });

/** The exact bytes a release's signature covers: the hold as placed, so an edited hold is not released by it. */
export const releaseBody = (h: HoldFacts, r: ReleaseFacts): string =>
  canonicalJson({
    origin: HOLD_RELEASE_ORIGIN,
    hold: holdFacts(h),
    reason: r.reason,
    releasedBy: r.released_by,
    releasedAt: r.released_at,
  });

function signedBy(body: string, row: { key_id: string | null; signature: string | null }, keys: Keys): boolean {
  const key = row.key_id === null ? undefined : keys.get(row.key_id);
  if (!key || row.signature === null) return false;
  try {
    return verify(null, Buffer.from(body, 'utf8'), key, Buffer.from(row.signature, 'base64url'));
  } catch {
    return false;
  }
}
type Keys = ReadonlyMap<string, KeyObject>;

/** A range pruning must keep: a seq range or a time window, inclusive. */
export type HeldRange = { fromSeq: number; toSeq: number } | { from: string; to: string };

/**
 * The holds pruning must honor, judged by the audit key rather than by the rows alone (the tables are
 * append-only, so anyone with an INSERT grant can add a row, and a DBA who drops the triggers can edit one):
 *  - a hold is released only by a release whose signature covers the hold as it stands;
 *  - an active hold whose own signature fails (never signed, or edited since) cannot be trusted to say what it
 *    covers, so it keeps everything (`all`) until a signed release;
 *  - each such row is a `problem`, which `verify` reports as `hold_forged`.
 */
export async function holdStates(
  db: Kysely<Database>,
  keys: Keys,
): Promise<{ ranges: HeldRange[]; all: boolean; problems: { holdId: string; detail: string }[] }> {
  const holds = await db.selectFrom('audit_holds').selectAll().execute();
  const releases = new Map(
    (await db.selectFrom('audit_hold_releases').selectAll().execute()).map((r) => [r.hold_id, r]),
  );
  const out = { ranges: [] as HeldRange[], all: false, problems: [] as { holdId: string; detail: string }[] };
  for (const h of holds) {
    const r = releases.get(h.id);
    if (r && signedBy(releaseBody(h, r), r, keys)) continue;
    if (r)
      out.problems.push({ holdId: h.id, detail: `the release of legal hold ${h.id} is not signed by the audit key` });
    if (!signedBy(holdBody(h), h, keys)) {
      out.problems.push({ holdId: h.id, detail: `legal hold ${h.id} is not signed by the audit key (or was edited)` });
      out.all = true;
    } else if (h.from_seq !== null && h.to_seq !== null)
      out.ranges.push({ fromSeq: Number(h.from_seq), toSeq: Number(h.to_seq) });
    else if (h.from_time !== null && h.to_time !== null) out.ranges.push({ from: h.from_time, to: h.to_time });
  }
  // Released or not, a release row whose hold is gone was not written by this service.
  for (const id of releases.keys())
    if (!holds.some((h) => h.id === id)) out.problems.push({ holdId: id, detail: `a release names no hold (${id})` });
  // A hold's row deleted behind the trigger: its `audit.hold.added` event (in the tree, so verify names its removal)
  // still says what it covers, and it stays in force; there is no row left for a release to be checked against.
  const placed = await db
    .selectFrom('audit_events')
    .select(['seq', 'object_id', 'details'])
    .where('type', '=', 'audit.hold.added')
    .execute();
  const rows = new Set(holds.map((h) => h.id));
  for (const e of placed) {
    if (e.object_id === null || rows.has(e.object_id)) continue;
    out.problems.push({ holdId: e.object_id, detail: `legal hold ${e.object_id} (event seq ${e.seq}) has no row` });
    const d = JSON.parse(e.details) as { fromSeq?: unknown; toSeq?: unknown; from?: unknown; to?: unknown };
    if (typeof d.fromSeq === 'number' && typeof d.toSeq === 'number')
      out.ranges.push({ fromSeq: d.fromSeq, toSeq: d.toSeq });
    else if (typeof d.from === 'string' && typeof d.to === 'string') out.ranges.push({ from: d.from, to: d.to });
    else out.all = true;
  }
  return out;
}

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

/** An ISO 8601 date-time with an explicit offset, four-digit year: without an offset it would be local time. */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

function isoOf(value: string, field: string): string {
  const m = DATE_TIME.exec(value);
  const t = Date.parse(value);
  // Date rolls a day that does not exist over (February 30th is March 2nd): the date must survive the parse.
  const exists =
    m !== null && new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!)).toISOString().startsWith(value.slice(0, 10));
  const iso = Number.isNaN(t) ? '' : new Date(t).toISOString();
  // Stored in the events' own ISO form, so the trigger and the pruner compare text with text: a year the form
  // cannot hold in four digits ("+010000-…") would sort before every event and the hold would cover nothing.
  if (!exists || +m[4]! > 23 || !/^\d{4}-/.test(iso))
    throw invalid(field, `${field} must be an ISO 8601 date-time with Z or an offset`);
  return iso;
}

const seqOf = (v: number, field: string) => {
  if (!Number.isSafeInteger(v) || v < 0) throw invalid(field, `${field} must be a non-negative integer`);
  return v;
};

/** Checks a hold's range: one kind only, both ends, in order. */
function normalized(r: HoldRange): Pick<AuditHoldRow, 'from_seq' | 'to_seq' | 'from_time' | 'to_time'> {
  const bySeq = r.fromSeq !== undefined || r.toSeq !== undefined;
  const byTime = r.from !== undefined || r.to !== undefined;
  if (bySeq === byTime) throw invalid('body', 'give a seq range (fromSeq, toSeq) or a time window (from, to)');
  if (bySeq) {
    if (r.fromSeq === undefined || r.toSeq === undefined) throw invalid('toSeq', 'a seq range needs both ends');
    const [from, to] = [seqOf(r.fromSeq, 'fromSeq'), seqOf(r.toSeq, 'toSeq')];
    if (from > to) throw invalid('fromSeq', 'fromSeq is after toSeq');
    return { from_seq: from, to_seq: to, from_time: null, to_time: null };
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
export function createAuditHolds(deps: {
  db: Kysely<Database>;
  audit: AuditAuditLog;
  clock: Clock;
  signer: AuditSigner;
}): AuditHolds {
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
        const facts = {
          id: newId(),
          ...normalized(range),
          reason: range.reason,
          created_by: actorName(by),
          created_at: deps.clock.now().toISOString(),
        };
        const signature = await deps.signer.sign(Buffer.from(holdBody(facts), 'utf8'));
        const row = { ...facts, key_id: deps.signer.keyId, signature };
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
        const row = await trx.selectFrom('audit_holds').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
        const facts = { hold_id: id, reason, released_by: actorName(by), released_at: deps.clock.now().toISOString() };
        const signature = await deps.signer.sign(Buffer.from(releaseBody(row, facts), 'utf8'));
        const released = { ...facts, key_id: deps.signer.keyId, signature };
        await trx.insertInto('audit_hold_releases').values(released).execute();
        const after = { ...hold, released: { by: released.released_by, at: released.released_at, reason } };
        await deps.audit.append(trx, event(after, by, true));
        return after;
      }),
  };
}
