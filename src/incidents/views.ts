import { type Static, Type } from '@sinclair/typebox';
import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../storage/index.js';
import { parseAssets } from './assets.js';
import { StepParams } from './playbooks.js';
import type { Scope } from './scoping.js';
import type { IncidentFindingRow, IncidentRecordRow, IncidentTimelineRow } from './tables.js';

const closed = { additionalProperties: false } as const;
const Str = Type.String();
const NStr = Type.Union([Type.String(), Type.Null()]);
const Strs = Type.Array(Type.String());

/** An asset list per kind. */
export const AssetsView = Type.Object(
  {
    vehicles: Strs,
    devices: Strs,
    users: Strs,
    clients: Strs,
    tenants: Strs,
    serials: Strs,
    thumbprints: Strs,
    networks: Strs,
  },
  closed,
);

/** An incident's scoping result. */
export const ScopeView = Type.Object(
  {
    window: Type.Object({ from: Str, to: Str }, closed),
    vehicles: Type.Array(
      Type.Object(
        {
          vehicleId: Str,
          vin: NStr,
          known: Type.Boolean(),
          outcome: Str,
          evidence: Strs,
          via: Strs,
        },
        closed,
      ),
    ),
    devices: Strs,
    pivots: Type.Array(Type.Object({ kind: Str, value: Str, vehicles: Type.Integer() }, closed)),
    truncated: Type.Boolean(),
    truncation: Strs,
    startedAt: Str,
    doneAt: Str,
    durationMs: Type.Number(),
  },
  closed,
);

/** One incident. */
export const IncidentView = Type.Object(
  {
    id: Str,
    tenantId: NStr,
    title: Str,
    severity: Str,
    state: Str,
    resolution: NStr,
    owner: NStr,
    openedBy: Str,
    openedAt: Str,
    firstSeen: NStr,
    groupKey: NStr,
    assets: AssetsView,
    scope: Type.Union([ScopeView, Type.Null()]),
    scopeStartedAt: NStr,
    scopeDoneAt: NStr,
    containedAt: NStr,
    closedAt: NStr,
    updatedAt: Str,
  },
  closed,
);

const FindingView = Type.Object(
  {
    findingId: Str,
    ruleId: Str,
    ruleVersion: Type.Integer(),
    severity: Str,
    title: Str,
    summary: Str,
    groupKey: Str,
    firstSeen: Str,
    lastSeen: Str,
    count: Type.Integer(),
    evidence: Strs,
  },
  closed,
);

const TimelineView = Type.Object({ id: Str, at: Str, kind: Str, actor: Str, summary: Str, details: Str }, closed);

/** An incident with its findings and its timeline. */
export const IncidentDetailView = Type.Object(
  { incident: IncidentView, findings: Type.Array(FindingView), timeline: Type.Array(TimelineView) },
  closed,
);
/** An incident with its findings and its timeline. */
export type IncidentDetail = Static<typeof IncidentDetailView>;

/** One step of a run, with its timings: decided, started, effective. */
export const StepView = Type.Object(
  {
    id: Str,
    position: Type.Integer(),
    stepId: Str,
    action: Str,
    targetKind: Str,
    targets: Strs,
    vehicleCount: Type.Integer(),
    approval: Type.Union([Type.Literal('none'), Type.Literal('one-operator'), Type.Literal('two-person')]),
    state: Str,
    decidedBy: NStr,
    decidedAt: NStr,
    startedAt: NStr,
    effectiveAt: NStr,
    /** The action's result as JSON text (its shape differs per action). */
    result: NStr,
    error: NStr,
  },
  closed,
);

/** One run with its steps. */
export const RunView = Type.Object(
  {
    id: Str,
    incidentId: Str,
    playbookId: Str,
    playbookVersion: Type.Integer(),
    requestedBy: Str,
    state: Str,
    createdAt: Str,
    finishedAt: NStr,
    steps: Type.Array(StepView),
  },
  closed,
);

/** A dry run: the resolved steps and which need approval. */
export const DryRunView = Type.Object(
  {
    incidentId: Str,
    /** Names the resolved targets: pass it to a run (`expectDigest`) to refuse a run whose targets changed. */
    digest: Str,
    playbookId: Str,
    version: Type.Integer(),
    steps: Type.Array(
      Type.Object(
        {
          position: Type.Integer(),
          stepId: Str,
          action: Str,
          mode: Str,
          targetKind: Str,
          targets: Strs,
          params: StepParams,
          vehicleCount: Type.Integer(),
          approval: Type.Integer(),
        },
        closed,
      ),
    ),
  },
  closed,
);

/** A loaded playbook, as the API lists it. */
export const PlaybookView = Type.Object(
  {
    id: Str,
    version: Type.Integer(),
    title: Str,
    description: Str,
    steps: Type.Array(
      Type.Object(
        {
          id: Str,
          action: Str,
          mode: Str,
          from: Type.Optional(Strs),
          params: Type.Optional(StepParams),
          description: Type.Optional(Str),
        },
        closed,
      ),
    ),
  },
  closed,
);

/** A queued notification (never delivered yet). */
export const NotificationView = Type.Object(
  {
    id: Str,
    incidentId: Str,
    recipientKind: Str,
    recipientId: Str,
    template: Str,
    details: Str,
    state: Type.Literal('pending'),
    createdAt: Str,
  },
  closed,
);

const Dist = Type.Object(
  {
    count: Type.Integer(),
    p50Ms: Type.Union([Type.Number(), Type.Null()]),
    p95Ms: Type.Union([Type.Number(), Type.Null()]),
    maxMs: Type.Union([Type.Number(), Type.Null()]),
  },
  closed,
);

/** The response governance numbers. */
export const GovernanceView = Type.Object(
  {
    window: Type.Object({ from: Str, to: Str }, closed),
    timeToRevoke: Type.Object({ vehicle: Dist, user: Dist, partner: Dist, service: Dist }, closed),
    timeToIdentifyAffectedVehicles: Type.Object(
      { count: Type.Integer(), meanMs: Type.Union([Type.Number(), Type.Null()]) },
      closed,
    ),
    crossTenantAuthorizationFailures: Type.Object({ count: Type.Integer(), source: Str }, closed),
    incidents: Type.Object(
      { opened: Type.Integer(), contained: Type.Integer(), closed: Type.Integer(), falsePositives: Type.Integer() },
      closed,
    ),
  },
  closed,
);

/** Maps the rows of one incident to its view. */
export function incidentView(
  i: Selectable<IncidentRecordRow>,
  findings: Selectable<IncidentFindingRow>[],
  timeline: Selectable<IncidentTimelineRow>[],
): IncidentDetail {
  return {
    incident: {
      id: i.id,
      tenantId: i.tenant_id,
      title: i.title,
      severity: i.severity,
      state: i.state,
      resolution: i.resolution,
      owner: i.owner,
      openedBy: i.opened_by,
      openedAt: i.opened_at,
      firstSeen: i.first_seen,
      groupKey: i.group_key,
      assets: parseAssets(i.assets),
      scope: i.scope ? (JSON.parse(i.scope) as Scope) : null,
      scopeStartedAt: i.scope_started_at,
      scopeDoneAt: i.scope_done_at,
      containedAt: i.contained_at,
      closedAt: i.closed_at,
      updatedAt: i.updated_at,
    },
    findings: findings.map((f) => ({
      findingId: f.finding_id,
      ruleId: f.rule_id,
      ruleVersion: Number(f.rule_version),
      severity: f.severity,
      title: f.title,
      summary: f.summary,
      groupKey: f.group_key,
      firstSeen: f.first_seen,
      lastSeen: f.last_seen,
      count: Number(f.count),
      evidence: JSON.parse(f.evidence) as string[],
    })),
    timeline: timeline.map((t) => ({
      id: t.id,
      at: t.at,
      kind: t.kind,
      actor: t.actor,
      summary: t.summary,
      details: t.details,
    })),
  };
}

const APPROVAL = ['none', 'one-operator', 'two-person'] as const;

/** Runs with their steps, by run or by incident (newest first). */
export async function runViews(
  db: Kysely<Database>,
  by: { runId: string } | { incidentId: string },
): Promise<Static<typeof RunView>[]> {
  let q = db.selectFrom('incident_runs').selectAll();
  q = 'runId' in by ? q.where('id', '=', by.runId) : q.where('incident_id', '=', by.incidentId);
  const runs = await q.orderBy('created_at', 'desc').orderBy('id').limit(100).execute();
  if (runs.length === 0) return [];
  const steps = await db
    .selectFrom('incident_steps')
    .selectAll()
    .where(
      'run_id',
      'in',
      runs.map((r) => r.id),
    )
    .orderBy('position')
    .execute();
  return runs.map((r) => ({
    id: r.id,
    incidentId: r.incident_id,
    playbookId: r.playbook_id,
    playbookVersion: Number(r.playbook_version),
    requestedBy: r.requested_by,
    state: r.state,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    steps: steps
      .filter((s) => s.run_id === r.id)
      .map((s) => ({
        id: s.id,
        position: Number(s.position),
        stepId: s.step_id,
        action: s.action,
        targetKind: s.target_kind,
        targets: JSON.parse(s.targets) as string[],
        vehicleCount: Number(s.vehicle_count),
        approval: APPROVAL[Number(s.approval)] ?? 'two-person',
        state: s.state,
        decidedBy: s.decided_by,
        decidedAt: s.decided_at,
        startedAt: s.started_at,
        effectiveAt: s.effective_at,
        result: s.result,
        error: s.error,
      })),
  }));
}
