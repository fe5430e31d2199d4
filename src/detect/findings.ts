/**
 * Findings: the only code that touches `detect_findings` and `detect_finding_events`. Hits of one rule on one
 * group key regroup into one finding within the rule's `regroup` window; every raise, update and status change
 * writes its audit event in the same transaction, and the reaction port (incidents) runs inside it too.
 */
import type { Kysely, Selectable } from 'kysely';
import type { AuditEvent, DetailValue } from '../audit/index.js';
import { type Clock, newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { DetectAuditEvent, DetectAuditLog } from './audit-events.js';
import { type Hit, META_DETAIL, noAssets } from './evaluate.js';
import { regroups } from './grouping.js';
import type { DetectFindingRow } from './tables.js';
import {
  ASSET_LIMIT,
  EVIDENCE_LIMIT,
  type Finding,
  type FindingAssets,
  type FindingStatus,
  SEVERITIES,
  type Severity,
} from './types.js';

/**
 * The reaction port: called inside the transaction for every finding raised or updated (incidents wire it). When
 * it answers with the incident the finding belongs to, the finding records it (`incidentId`).
 */
export type FindingReaction = (
  trx: Kysely<Database>,
  finding: Finding,
  change: { raised: boolean },
) => Promise<{ incidentId: string | null } | void>;

/** Filters of a findings listing. */
export interface FindingQuery {
  status?: FindingStatus;
  rule?: string;
  severity?: Severity;
  tenant?: string;
  /** ISO time: findings last seen at or after it. */
  since?: string;
  limit?: number;
  /** Opaque, from the previous page's `next`. */
  cursor?: string;
}

/** One evidence event of a finding. */
export interface EvidenceRow {
  eventId: string;
  seq: number;
}

/** The findings store. */
export interface FindingStore {
  /** Raises or updates the findings of `hits` (one rule and group key at a time, in order) inside `trx`. */
  record(trx: Kysely<Database>, hits: readonly Hit[]): Promise<{ raised: number; updated: number }>;
  list(query: FindingQuery): Promise<{ findings: Finding[]; next: string | null }>;
  get(id: string): Promise<Finding | null>;
  evidence(id: string): Promise<EvidenceRow[]>;
  /** Resolves or suppresses a finding; audited with the operator and the reason. Null when there is none. */
  setStatus(
    id: string,
    change: { status: 'resolved' | 'suppressed'; reason: string; operator: string; requestId: string | null },
  ): Promise<Finding | null>;
}

const AUDIT_LIST_LIMIT = 100;

function merge(a: FindingAssets, b: FindingAssets): { assets: FindingAssets; truncated: boolean } {
  const out = noAssets();
  let truncated = false;
  for (const kind of Object.keys(out) as Array<keyof FindingAssets>) {
    const all = [...new Set([...a[kind], ...b[kind]])].sort();
    truncated ||= all.length > ASSET_LIMIT;
    out[kind] = all.slice(0, ASSET_LIMIT);
  }
  return { assets: out, truncated };
}

const latest = (hits: readonly Hit[]) => hits.reduce((m, h) => (h.at > m ? h.at : m), (hits[0] as Hit).at);
const worse = (a: Severity, b: Severity) => (SEVERITIES.indexOf(a) >= SEVERITIES.indexOf(b) ? a : b);

function toFinding(row: Selectable<DetectFindingRow>, evidence: string[]): Finding {
  return {
    id: row.id,
    ruleId: row.rule_id,
    ruleVersion: row.rule_version,
    title: row.title,
    severity: row.severity as Severity,
    tenantId: row.tenant_id,
    groupKey: row.group_key,
    status: row.status as FindingStatus,
    assets: { ...noAssets(), ...(JSON.parse(row.assets) as Partial<FindingAssets>) },
    truncated: row.truncated === 1,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    count: row.count,
    evidence,
    summary: row.summary,
    incidentId: row.incident_id,
  };
}

/** The audit event of a finding change: rule, version, severity, count, the assets and the first evidence ids. */
function findingEvent(
  type: DetectAuditEvent,
  f: Finding,
  meta: boolean,
  extra: { operator?: string; reason?: string; requestId?: string | null } = {},
): AuditEvent<DetectAuditEvent> {
  const details: Record<string, DetailValue> = {
    findingId: f.id,
    ruleId: f.ruleId,
    ruleVersion: f.ruleVersion,
    title: f.title,
    severity: f.severity,
    status: f.status,
    count: f.count,
    groupKey: f.groupKey.slice(0, 500),
    summary: f.summary,
    firstSeen: f.firstSeen,
    lastSeen: f.lastSeen,
    evidence: f.evidence.slice(0, AUDIT_LIST_LIMIT),
    assetsTruncated: f.truncated || Object.values(f.assets).some((v: string[]) => v.length > AUDIT_LIST_LIMIT),
    [META_DETAIL]: meta,
  };
  for (const [kind, values] of Object.entries(f.assets))
    details[kind] = (values as string[]).slice(0, AUDIT_LIST_LIMIT);
  return {
    type,
    actor: extra.operator ? { type: 'operator', id: extra.operator } : { type: 'system', id: 'detect' },
    tenantId: f.tenantId,
    object: { type: 'finding', id: f.id },
    action: `detect:finding.${type.split('.').at(-1)}`,
    decision: 'info',
    reason: extra.reason ?? f.ruleId,
    context: { requestId: extra.requestId ?? null, traceId: null, sourceIp: null },
    details,
  };
}

/** Creates the findings store. */
export function createFindingStore(deps: {
  db: Kysely<Database>;
  audit: DetectAuditLog;
  clock: Clock;
  onFinding?: FindingReaction;
}): FindingStore {
  const { db, audit } = deps;

  const evidenceIds = async (q: Kysely<Database>, id: string) =>
    (
      await q
        .selectFrom('detect_finding_events')
        .select('event_id')
        .where('finding_id', '=', id)
        .orderBy('event_seq')
        .limit(EVIDENCE_LIMIT)
        .execute()
    ).map((r) => r.event_id);

  async function addEvidence(trx: Kysely<Database>, id: string, have: number, hit: Hit): Promise<number> {
    const room = EVIDENCE_LIMIT - have;
    if (room <= 0) return have;
    const rows = hit.evidence.slice(0, room).map((e) => ({ finding_id: id, event_id: e.id, event_seq: e.seq }));
    if (rows.length === 0) return have;
    const inserted = await trx
      .insertInto('detect_finding_events')
      .values(rows)
      .onConflict((oc) => oc.columns(['finding_id', 'event_id']).doNothing())
      .returning('event_id')
      .execute();
    return have + inserted.length;
  }

  async function recordGroup(trx: Kysely<Database>, hits: readonly Hit[]): Promise<boolean> {
    const last = hits.at(-1) as Hit;
    const existing = await trx
      .selectFrom('detect_findings')
      .selectAll()
      .where('rule_id', '=', last.ruleId)
      .where('group_key', '=', last.groupKey)
      .orderBy('last_seen', 'desc')
      .limit(1)
      .executeTakeFirst();
    const first = hits[0] as Hit;
    const reuse = existing && existing.status !== 'resolved' && regroups(existing.last_seen, first.at, first.regroupMs);
    let assets = reuse ? { ...noAssets(), ...(JSON.parse(existing.assets) as FindingAssets) } : noAssets();
    let truncated = reuse ? existing.truncated === 1 : false;
    for (const h of hits) {
      const merged = merge(assets, h.assets);
      assets = merged.assets;
      truncated ||= merged.truncated;
    }
    const id = reuse ? existing.id : newId();
    const row = {
      rule_version: last.ruleVersion,
      title: last.title,
      severity: reuse ? worse(existing.severity as Severity, last.severity) : last.severity,
      assets: JSON.stringify(assets),
      truncated: truncated ? 1 : 0,
      // A late event (a PostgreSQL gap) can fire after later ones: lastSeen never moves back.
      last_seen: reuse && existing.last_seen > latest(hits) ? existing.last_seen : latest(hits),
      count: (reuse ? existing.count : 0) + hits.length,
      summary: last.summary,
    };
    if (reuse) await trx.updateTable('detect_findings').set(row).where('id', '=', id).execute();
    else
      await trx
        .insertInto('detect_findings')
        .values({
          ...row,
          id,
          rule_id: last.ruleId,
          tenant_id: last.tenantId,
          group_key: last.groupKey,
          status: 'open',
          first_seen: hits.reduce((m, h) => (h.at < m ? h.at : m), first.at),
          evidence_count: 0,
          meta: last.meta ? 1 : 0,
          incident_id: null,
          status_reason: null,
          status_by: null,
          status_at: null,
        })
        .execute();
    let have = reuse ? existing.evidence_count : 0;
    for (const h of hits) have = await addEvidence(trx, id, have, h);
    await trx.updateTable('detect_findings').set({ evidence_count: have }).where('id', '=', id).execute();
    const stored = await trx.selectFrom('detect_findings').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const finding = toFinding(stored, await evidenceIds(trx, id));
    await audit.append(
      trx,
      findingEvent(reuse ? 'detect.finding.updated' : 'detect.finding.raised', finding, last.meta),
    );
    const reaction = await deps.onFinding?.(trx, finding, { raised: !reuse });
    if (reaction && reaction.incidentId && reaction.incidentId !== stored.incident_id)
      await trx.updateTable('detect_findings').set({ incident_id: reaction.incidentId }).where('id', '=', id).execute();
    return !reuse;
  }

  return {
    async record(trx, hits) {
      // One round's hits of one rule and key become one raise or update (one audit event), not one per event;
      // a pause longer than the regroup window inside one round splits them into two findings.
      const groups: Hit[][] = [];
      for (const h of hits) {
        const group = groups.findLast((g) => g[0]?.ruleId === h.ruleId && g[0]?.groupKey === h.groupKey);
        const prev = group?.at(-1);
        if (group && prev && regroups(prev.at, h.at, h.regroupMs)) group.push(h);
        else groups.push([h]);
      }
      let raised = 0;
      for (const group of groups.values()) if (await recordGroup(trx, group)) raised += 1;
      return { raised, updated: groups.length - raised };
    },
    ...createFindingReads(db),
    async setStatus(id, change) {
      return db.transaction().execute(async (trx) => {
        const row = await trx.selectFrom('detect_findings').selectAll().where('id', '=', id).executeTakeFirst();
        if (!row) return null;
        const at = deps.clock.now().toISOString();
        await trx
          .updateTable('detect_findings')
          .set({ status: change.status, status_reason: change.reason, status_by: change.operator, status_at: at })
          .where('id', '=', id)
          .execute();
        const finding = toFinding({ ...row, status: change.status }, await evidenceIds(trx, id));
        const type = change.status === 'resolved' ? 'detect.finding.resolved' : 'detect.finding.suppressed';
        await audit.append(trx, findingEvent(type, finding, row.meta === 1, change));
        return finding;
      });
    },
  };
}

function encodeCursor(row: { first_seen: string; id: string }): string {
  return Buffer.from(JSON.stringify([row.first_seen, row.id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] | null {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    return Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'string') ? (v as [string, string]) : null;
  } catch {
    return null;
  }
}

/** The read side: listing newest first (by first sighting), one finding, its evidence. */
function createFindingReads(db: Kysely<Database>): Pick<FindingStore, 'list' | 'get' | 'evidence'> {
  const evidenceOf = async (ids: string[]) => {
    const byId = new Map<string, string[]>(ids.map((i) => [i, []]));
    if (ids.length === 0) return byId;
    const rows = await db
      .selectFrom('detect_finding_events')
      .select(['finding_id', 'event_id'])
      .where('finding_id', 'in', ids)
      .orderBy('event_seq')
      .execute();
    for (const r of rows) byId.get(r.finding_id)?.push(r.event_id);
    return byId;
  };
  return {
    async list(query) {
      const limit = Math.min(Math.max(query.limit ?? 50, 1), 200);
      let q = db.selectFrom('detect_findings').selectAll();
      if (query.status) q = q.where('status', '=', query.status);
      if (query.rule) q = q.where('rule_id', '=', query.rule);
      if (query.severity) q = q.where('severity', '=', query.severity);
      if (query.tenant) q = q.where('tenant_id', '=', query.tenant);
      if (query.since) q = q.where('last_seen', '>=', query.since);
      const after = query.cursor ? decodeCursor(query.cursor) : null;
      if (after)
        q = q.where((eb) =>
          eb.or([eb('first_seen', '<', after[0]), eb.and([eb('first_seen', '=', after[0]), eb('id', '<', after[1])])]),
        );
      const rows = await q
        .orderBy('first_seen', 'desc')
        .orderBy('id', 'desc')
        .limit(limit + 1)
        .execute();
      const page = rows.slice(0, limit);
      const evidence = await evidenceOf(page.map((r) => r.id));
      return {
        findings: page.map((r) => toFinding(r, evidence.get(r.id) ?? [])),
        next: rows.length > limit ? encodeCursor(page.at(-1) as DetectFindingRow) : null,
      };
    },
    async get(id) {
      const row = await db.selectFrom('detect_findings').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return null;
      return toFinding(row, (await evidenceOf([id])).get(id) ?? []);
    },
    async evidence(id) {
      const rows = await db
        .selectFrom('detect_finding_events')
        .select(['event_id', 'event_seq'])
        .where('finding_id', '=', id)
        .orderBy('event_seq')
        .execute();
      return rows.map((r) => ({ eventId: r.event_id, seq: Number(r.event_seq) }));
    },
  };
}
