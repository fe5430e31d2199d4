import type { Kysely, Selectable } from 'kysely';
import type { RequestContext } from '../audit/index.js';
import { type Finding, type FindingAssets, SEVERITIES, type Severity } from '../detect/index.js';
import { CarapaceError, type Clock, newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { mergeAssets, noAssets, parseAssets } from './assets.js';
import type { IncidentAuditLog } from './audit-events.js';
import { checkTransition, type Resolution } from './lifecycle.js';
import type { IncidentFindingRow, IncidentRecordRow, IncidentState } from './tables.js';
import { type IncidentActor, recordStep, SYSTEM, type TimelineStep } from './timeline.js';

/** What the incidents module is configured with (`incidents.*`). */
export interface IncidentSettings {
  autoOpenSeverity: Severity;
  approvalVehicleThreshold: number;
}

/** What the book needs. */
export interface BookDeps {
  db: Kysely<Database>;
  audit: IncidentAuditLog;
  clock: Clock;
  settings: IncidentSettings;
}

/** A new incident, from findings the module was told of and/or assets an operator names. */
export interface NewIncident {
  title: string;
  severity: Severity;
  tenantId?: string | null;
  findingIds?: string[];
  assets?: Partial<FindingAssets>;
}

const atLeast = (s: Severity, floor: Severity) => SEVERITIES.indexOf(s) >= SEVERITIES.indexOf(floor);
const notFound = () => new CarapaceError('ERR_NOT_FOUND', 'no such incident');

/** Loads an incident (for update inside `trx`) or throws 404. */
export async function loadIncident(db: Kysely<Database>, id: string): Promise<Selectable<IncidentRecordRow>> {
  const row = await db.selectFrom('incident_records').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound();
  return row;
}

function findingRow(f: Finding, at: string): IncidentFindingRow {
  return {
    finding_id: f.id,
    rule_id: f.ruleId,
    rule_version: f.ruleVersion,
    severity: f.severity,
    tenant_id: f.tenantId,
    group_key: f.groupKey,
    title: f.title.slice(0, 200),
    summary: f.summary.slice(0, 500),
    first_seen: f.firstSeen,
    last_seen: f.lastSeen,
    count: f.count,
    evidence: JSON.stringify(f.evidence),
    assets: JSON.stringify(f.assets),
    incident_id: f.incidentId,
    reported_at: at,
  };
}

/**
 * The incident book: opening (automatically from findings, or by an operator), the lifecycle, owner, notes and
 * attached findings. Every change writes a timeline row and its audit event in the same transaction.
 */
export function createIncidentBook(deps: BookDeps) {
  const { db, audit, clock } = deps;
  const step = (trx: Kysely<Database>, s: TimelineStep) => recordStep(trx, { audit, at: clock.now() }, s);

  async function insertIncident(
    trx: Kysely<Database>,
    args: NewIncident & { actor: IncidentActor; groupKey: string | null; firstSeen: string | null },
    findings: IncidentFindingRow[],
    context: RequestContext | null,
  ): Promise<string> {
    const id = newId();
    const at = clock.now().toISOString();
    const assets = mergeAssets(args.assets ?? noAssets(), ...findings.map((f) => parseAssets(f.assets)));
    await trx
      .insertInto('incident_records')
      .values({
        id,
        tenant_id: args.tenantId ?? findings[0]?.tenant_id ?? null,
        title: args.title.slice(0, 200),
        severity: args.severity,
        state: 'open',
        resolution: null,
        owner: null,
        opened_by: `${args.actor.type}:${args.actor.id}`,
        opened_at: at,
        first_seen: args.firstSeen,
        group_key: args.groupKey,
        open_group_key: args.groupKey,
        assets: JSON.stringify(assets),
        scope: null,
        scope_started_at: null,
        scope_done_at: null,
        contained_at: null,
        closed_at: null,
        updated_at: at,
      })
      .execute();
    const tenantId = args.tenantId ?? findings[0]?.tenant_id ?? null;
    await step(trx, {
      incidentId: id,
      tenantId,
      type: 'incidents.opened',
      kind: 'opened',
      actor: args.actor,
      summary: `opened: ${args.title}`.slice(0, 500),
      reason: args.groupKey ? 'finding' : 'operator',
      context,
      details: { severity: args.severity, state: 'open', groupKey: args.groupKey, findings: findings.length },
    });
    for (const f of findings) await attachRow(trx, id, tenantId, f, args.actor, context);
    return id;
  }

  async function attachRow(
    trx: Kysely<Database>,
    incidentId: string,
    tenantId: string | null,
    f: IncidentFindingRow,
    actor: IncidentActor,
    context: RequestContext | null,
  ): Promise<void> {
    await trx
      .updateTable('incident_findings')
      .set({ incident_id: incidentId })
      .where('finding_id', '=', f.finding_id)
      .execute();
    await step(trx, {
      incidentId,
      tenantId,
      type: 'incidents.finding_attached',
      kind: 'finding',
      actor,
      summary: `finding ${f.rule_id} v${f.rule_version} (${f.severity}): ${f.summary}`,
      context,
      details: { findingId: f.finding_id, ruleId: f.rule_id, severity: f.severity, count: f.count },
    });
  }

  /** Adds a finding's assets (and an earlier first-seen) to its incident. */
  async function widen(trx: Kysely<Database>, incident: Selectable<IncidentRecordRow>, f: IncidentFindingRow) {
    const assets = mergeAssets(parseAssets(incident.assets), parseAssets(f.assets));
    const firstSeen = incident.first_seen && incident.first_seen < f.first_seen ? incident.first_seen : f.first_seen;
    await trx
      .updateTable('incident_records')
      .set({ assets: JSON.stringify(assets), first_seen: firstSeen, updated_at: clock.now().toISOString() })
      .where('id', '=', incident.id)
      .execute();
  }

  async function findingsByIds(trx: Kysely<Database>, ids: readonly string[]): Promise<IncidentFindingRow[]> {
    if (ids.length === 0) return [];
    const rows = await trx
      .selectFrom('incident_findings')
      .selectAll()
      .where('finding_id', 'in', [...ids])
      .execute();
    const missing = ids.find((id) => !rows.some((r) => r.finding_id === id));
    if (missing)
      throw new CarapaceError('ERR_VALIDATION', 'no finding with that id was reported to incidents', {
        field: 'findingIds',
        findingId: missing,
      });
    return rows;
  }

  return {
    /**
     * The detection engine's reaction port, inside its transaction: records the finding, attaches a repeat to the
     * open incident of its group, and opens one when the finding is at or above `incidents.autoOpenSeverity`.
     */
    async onFinding(
      trx: Kysely<Database>,
      finding: Finding,
      _info: { raised: boolean },
    ): Promise<{ incidentId: string | null }> {
      const at = clock.now().toISOString();
      const row = findingRow(finding, at);
      const known = await trx
        .selectFrom('incident_findings')
        .select(['incident_id'])
        .where('finding_id', '=', finding.id)
        .executeTakeFirst();
      row.incident_id = known?.incident_id ?? null;
      if (known) {
        const { finding_id: _id, ...rest } = row;
        await trx.updateTable('incident_findings').set(rest).where('finding_id', '=', finding.id).execute();
      } else await trx.insertInto('incident_findings').values(row).execute();
      const open = await trx
        .selectFrom('incident_records')
        .selectAll()
        .where('open_group_key', '=', finding.groupKey)
        .executeTakeFirst();
      if (open) {
        await widen(trx, open, row);
        if (row.incident_id !== open.id) await attachRow(trx, open.id, open.tenant_id, row, SYSTEM, null);
        return { incidentId: open.id };
      }
      if (!atLeast(finding.severity, deps.settings.autoOpenSeverity)) {
        if (!known)
          await audit.append(trx, {
            type: 'incidents.finding_recorded',
            actor: SYSTEM,
            tenantId: finding.tenantId,
            object: { type: 'finding', id: finding.id },
            action: 'incidents:record_finding',
            decision: 'info',
            reason: 'below_auto_open_severity',
            details: { ruleId: finding.ruleId, severity: finding.severity },
          });
        return { incidentId: row.incident_id };
      }
      const id = await insertIncident(
        trx,
        {
          title: finding.title,
          severity: finding.severity,
          tenantId: finding.tenantId,
          actor: SYSTEM,
          groupKey: finding.groupKey,
          firstSeen: finding.firstSeen,
        },
        [row],
        null,
      );
      return { incidentId: id };
    },

    /** Opens an incident by an operator, from reported findings and/or named assets. */
    async open(args: NewIncident, actor: IncidentActor, context: RequestContext | null): Promise<string> {
      return db.transaction().execute(async (trx) => {
        const findings = await findingsByIds(trx, args.findingIds ?? []);
        const firstSeen = findings.map((f) => f.first_seen).sort()[0] ?? null;
        return insertIncident(trx, { ...args, actor, groupKey: null, firstSeen }, findings, context);
      });
    },

    /** Moves an incident through its lifecycle; a refused move is audited and answered 409. */
    async transition(
      id: string,
      args: { to: IncidentState; reason: string; resolution?: Resolution },
      actor: IncidentActor,
      context: RequestContext | null,
    ): Promise<void> {
      const incident = await loadIncident(db, id);
      let resolution: Resolution | null;
      try {
        resolution = checkTransition(incident.state, args.to, args.resolution);
      } catch (err) {
        await audit.append(db, {
          type: 'incidents.transition_refused',
          actor,
          tenantId: incident.tenant_id,
          object: { type: 'incident', id },
          action: `incidents:transition:${args.to}`,
          decision: 'deny',
          reason: 'ERR_INCIDENT_TRANSITION_REFUSED',
          context,
          details: { from: incident.state, to: args.to },
        });
        throw err;
      }
      await db
        .transaction()
        .execute((trx) => moveWithin(trx, incident, args.to, resolution, actor, args.reason, context));
    },

    /** Sets (or clears) the incident's owner, an operator name. */
    async assign(id: string, owner: string | null, actor: IncidentActor, context: RequestContext | null) {
      await db.transaction().execute(async (trx) => {
        const incident = await loadIncident(trx, id);
        await trx
          .updateTable('incident_records')
          .set({ owner, updated_at: clock.now().toISOString() })
          .where('id', '=', id)
          .execute();
        await step(trx, {
          incidentId: id,
          tenantId: incident.tenant_id,
          type: 'incidents.owner_changed',
          kind: 'owner',
          actor,
          summary: `owner: ${incident.owner ?? '-'} -> ${owner ?? '-'}`,
          context,
          details: { from: incident.owner, to: owner },
        });
      });
    },

    /** Adds an operator's note to the timeline. */
    async note(id: string, text: string, actor: IncidentActor, context: RequestContext | null) {
      await db.transaction().execute(async (trx) => {
        const incident = await loadIncident(trx, id);
        await step(trx, {
          incidentId: id,
          tenantId: incident.tenant_id,
          type: 'incidents.note_added',
          kind: 'note',
          actor,
          summary: text,
          context,
          details: { length: text.length },
        });
      });
    },

    /** Attaches a reported finding to an incident (its assets join the incident's). */
    async attach(id: string, findingId: string, actor: IncidentActor, context: RequestContext | null) {
      await db.transaction().execute(async (trx) => {
        const incident = await loadIncident(trx, id);
        const [f] = await findingsByIds(trx, [findingId]);
        if (f!.incident_id === id)
          throw new CarapaceError('ERR_CONFLICT', 'the finding is attached to this incident already', { findingId });
        await widen(trx, incident, f!);
        await attachRow(trx, id, incident.tenant_id, f!, actor, context);
      });
    },

    moveWithin,
  };

  /** Applies a checked transition inside `trx`, conditional on the state read, with its timeline step. */
  async function moveWithin(
    trx: Kysely<Database>,
    incident: Selectable<IncidentRecordRow>,
    to: IncidentState,
    resolution: Resolution | null,
    actor: IncidentActor,
    reason: string,
    context: RequestContext | null,
  ): Promise<void> {
    const at = clock.now().toISOString();
    const reopened = incident.state === 'closed';
    const r = await trx
      .updateTable('incident_records')
      .set({
        state: to,
        resolution: to === 'closed' ? resolution : null,
        updated_at: at,
        ...(to === 'contained' && !incident.contained_at ? { contained_at: at } : {}),
        ...(to === 'closed' ? { closed_at: at, open_group_key: null } : {}),
        ...(reopened ? { closed_at: null, open_group_key: null } : {}),
      })
      .where('id', '=', incident.id)
      .where('state', '=', incident.state)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1)
      throw new CarapaceError('ERR_CONFLICT', 'the incident changed state concurrently; read it again', {
        incidentId: incident.id,
      });
    await step(trx, {
      incidentId: incident.id,
      tenantId: incident.tenant_id,
      type: 'incidents.transitioned',
      kind: 'state',
      actor,
      summary: `${incident.state} -> ${to}${resolution ? ` (${resolution})` : ''}: ${reason}`,
      reason,
      context,
      details: { from: incident.state, to, resolution, state: to, severity: incident.severity },
    });
  }
}

/** The incident book. */
export type IncidentBook = ReturnType<typeof createIncidentBook>;
