import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { RequestContext } from '../audit/index.js';
import type { Investigator } from '../investigation/index.js';
import { CarapaceError, type Clock } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { IncidentFacts, ResponsePorts } from './actions.js';
import { parseAssets } from './assets.js';
import type { IncidentAuditLog } from './audit-events.js';
import { createIncidentBook, type IncidentSettings, loadIncident } from './book.js';
import { responseGovernance } from './governance.js';
import { listNotifications, queueNotifications } from './notifications.js';
import type { Playbook } from './playbooks.js';
import { createRunEngine, resolvePlaybook } from './runs.js';
import { type Scope, scopeAssets } from './scoping.js';
import { recordStep, SYSTEM, type IncidentActor } from './timeline.js';
import { incidentView, runViews, type IncidentDetail } from './views.js';

/** What the incidents module is built from. */
export interface IncidentsDeps {
  db: Kysely<Database>;
  audit: IncidentAuditLog;
  clock: Clock;
  settings: IncidentSettings & { scopeLookbackSeconds: number };
  playbooks: Map<string, Playbook>;
  investigator: Investigator;
  /** The other modules' operations the playbooks call (scope and notify are the module's own). */
  ports: Omit<ResponsePorts, 'db' | 'now' | 'scope' | 'notify'>;
  /** Authorization denials the policy module marked cross-tenant in a window (read from the audit trail). */
  crossTenantDenials: (window: { from: string; to: string }) => Promise<number>;
}

/** Names what a run would act on: the playbook version and each step's action and sorted targets. */
function targetsDigest(version: number, steps: { stepId: string; action: string; targets: string[] }[]): string {
  const canonical = JSON.stringify([version, steps.map((s) => [s.stepId, s.action, [...s.targets].sort()])]);
  return createHash('sha256').update(canonical).digest('base64url');
}

const noPlaybook = () => new CarapaceError('ERR_NOT_FOUND', 'no such playbook');

/** Builds the incidents module: the book, scoping, playbook runs, notifications and governance numbers. */
export function createIncidents(deps: IncidentsDeps) {
  const { db, audit, clock } = deps;
  const book = createIncidentBook(deps);

  async function facts(incidentId: string): Promise<IncidentFacts> {
    const i = await loadIncident(db, incidentId);
    const findings = await db
      .selectFrom('incident_findings')
      .select(['evidence'])
      .where('incident_id', '=', incidentId)
      .execute();
    return {
      id: i.id,
      tenantId: i.tenant_id,
      assets: parseAssets(i.assets),
      scope: i.scope ? (JSON.parse(i.scope) as Scope) : null,
      firstSeen: i.first_seen,
      openedAt: i.opened_at,
      evidence: [...new Set(findings.flatMap((f) => JSON.parse(f.evidence) as string[]))],
    };
  }

  async function scope(incidentId: string, actor: IncidentActor, context: RequestContext | null): Promise<Scope> {
    const i = await loadIncident(db, incidentId);
    const started = clock.now();
    await db
      .updateTable('incident_records')
      .set({ scope_started_at: started.toISOString() })
      .where('id', '=', incidentId)
      .execute();
    const start = Date.parse(i.first_seen ?? i.opened_at) - deps.settings.scopeLookbackSeconds * 1000;
    const result = await scopeAssets(
      deps.investigator,
      parseAssets(i.assets),
      { from: new Date(start), to: clock.now() },
      () => clock.now(),
    );
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('incident_records')
        .set({ scope: JSON.stringify(result), scope_done_at: result.doneAt, updated_at: result.doneAt })
        .where('id', '=', incidentId)
        .execute();
      await recordStep(
        trx,
        { audit, at: clock.now() },
        {
          incidentId,
          tenantId: i.tenant_id,
          type: 'incidents.scoped',
          kind: 'scope',
          actor,
          summary: `scoped: ${result.vehicles.length} affected vehicle(s), ${result.devices.length} device(s)`,
          context,
          details: {
            vehicles: result.vehicles.length,
            devices: result.devices.length,
            pivots: result.pivots.length,
            truncated: result.truncated,
            durationMs: result.durationMs,
          },
        },
      );
    });
    return result;
  }

  const ports: ResponsePorts = {
    ...deps.ports,
    db,
    now: () => clock.now(),
    scope: (id) => scope(id, SYSTEM, null),
    notify: async (id, notes) => {
      const i = await loadIncident(db, id);
      return queueNotifications(deps, { id, tenantId: i.tenant_id }, notes, SYSTEM);
    },
  };
  const runDeps = {
    db,
    audit,
    clock,
    ports,
    approvalVehicleThreshold: deps.settings.approvalVehicleThreshold,
    facts,
    async contained(incidentId: string, runId: string) {
      await db.transaction().execute(async (trx) => {
        const i = await loadIncident(trx, incidentId);
        if (i.state !== 'open' && i.state !== 'triaged') return;
        await book.moveWithin(trx, i, 'contained', null, SYSTEM, `playbook run ${runId} completed`, null);
      });
    },
  };
  const runs = createRunEngine(runDeps);
  const playbook = (id: string) => {
    const p = deps.playbooks.get(id);
    if (!p) throw noPlaybook();
    return p;
  };

  return {
    onFinding: book.onFinding,
    open: book.open,
    transition: book.transition,
    assign: book.assign,
    note: book.note,
    attach: book.attach,
    scope,

    /** One incident with its findings and timeline. */
    async get(id: string): Promise<IncidentDetail> {
      const i = await loadIncident(db, id);
      const findings = await db.selectFrom('incident_findings').selectAll().where('incident_id', '=', id).execute();
      const timeline = await db
        .selectFrom('incident_timeline')
        .selectAll()
        .where('incident_id', '=', id)
        .orderBy('position')
        .execute();
      return incidentView(i, findings, timeline);
    },

    /** Incidents, newest first. */
    async list(filter: { state?: string; limit: number }) {
      let q = db.selectFrom('incident_records').selectAll();
      if (filter.state) q = q.where('state', '=', filter.state as 'open');
      const rows = await q.orderBy('opened_at', 'desc').orderBy('id').limit(filter.limit).execute();
      return rows.map((r) => incidentView(r, [], []).incident);
    },

    playbooks: () => [...deps.playbooks.values()],
    /** The actions of a playbook's automatic steps, which run under the starter's authority (unknown: a 404). */
    autoActions: (playbookId: string): string[] =>
      playbook(playbookId)
        .steps.filter((s) => s.mode === 'auto')
        .map((s) => s.action),
    /** The action of a run's step (404 when there is none). */
    async stepAction(stepId: string): Promise<string> {
      const row = await db.selectFrom('incident_steps').select('action').where('id', '=', stepId).executeTakeFirst();
      if (!row) throw new CarapaceError('ERR_NOT_FOUND', 'no such playbook step');
      return row.action;
    },

    /** What a run would do, step by step: targets, vehicles touched, approvals. Changes nothing. */
    async dryRun(incidentId: string, playbookId: string) {
      const p = playbook(playbookId);
      const steps = await resolvePlaybook(runDeps, p, await facts(incidentId));
      return { incidentId, playbookId: p.id, version: p.version, steps, digest: targetsDigest(p.version, steps) };
    },

    /**
     * Starts a run of a playbook on an incident; automatic steps run at once. With `expectDigest` (from a dry run),
     * the run is refused when the targets changed since: an open incident keeps gaining assets from new findings.
     */
    async run(
      incidentId: string,
      playbookId: string,
      operator: string,
      context: RequestContext | null,
      expectDigest?: string,
    ) {
      await loadIncident(db, incidentId);
      if (expectDigest !== undefined) {
        const p = playbook(playbookId);
        const now = targetsDigest(p.version, await resolvePlaybook(runDeps, p, await facts(incidentId)));
        if (now !== expectDigest)
          throw new CarapaceError('ERR_CONFLICT', 'the targets changed since the dry run: review the dry run again', {
            digest: now,
          });
      }
      const runId = await runs.start(playbook(playbookId), incidentId, operator, context);
      return (await runViews(db, { runId }))[0]!;
    },

    /** Approves or rejects a step waiting for approval; the run goes on. */
    async decide(
      stepId: string,
      decision: 'approve' | 'reject',
      by: string,
      reason: string,
      ctx: RequestContext | null,
    ) {
      const runId = await runs.decide(stepId, decision, by, reason, ctx);
      return (await runViews(db, { runId }))[0]!;
    },

    runs: (incidentId: string) => runViews(db, { incidentId }),
    notifications: (filter: { incidentId?: string; limit: number }) => listNotifications(db, filter),
    /** The governance numbers over the last `days` days. */
    governance(days: number) {
      const to = clock.now();
      const window = { from: new Date(to.getTime() - days * 86400e3).toISOString(), to: to.toISOString() };
      return responseGovernance(db, window, deps.crossTenantDenials);
    },
  };
}

/** The incidents module as the platform holds it. */
export type Incidents = ReturnType<typeof createIncidents>;
