import type { Kysely, Selectable } from 'kysely';
import type { RequestContext } from '../audit/index.js';
import { CarapaceError, type Clock, newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { ACTION_DEFS, type IncidentFacts, type ResponsePorts } from './actions.js';
import type { IncidentAuditLog } from './audit-events.js';
import type { Playbook } from './playbooks.js';
import type { IncidentRunRow, IncidentStepRow } from './tables.js';
import { recordStep } from './timeline.js';

/** A step as a dry run (or a run) resolves it. */
export interface ResolvedStep {
  position: number;
  stepId: string;
  action: string;
  mode: 'auto' | 'approval';
  targetKind: string;
  targets: string[];
  params: Record<string, unknown>;
  vehicleCount: number;
  /** 0: runs at once; 1: after an operator's approval; 2: after a second operator's (two-person rule). */
  approval: 0 | 1 | 2;
}

/** What the run engine needs. */
export interface RunDeps {
  db: Kysely<Database>;
  audit: IncidentAuditLog;
  clock: Clock;
  ports: ResponsePorts;
  approvalVehicleThreshold: number;
  /** The incident's facts, read fresh (its scope may have changed since the run was made). */
  facts(incidentId: string): Promise<IncidentFacts>;
  /** Called once every containment step of a run is done: moves the incident to contained if it is not yet. */
  contained(incidentId: string, runId: string): Promise<void>;
}

/** Resolves every step of a playbook against an incident: targets, vehicles touched, approvals. Writes nothing. */
export async function resolvePlaybook(
  deps: RunDeps,
  playbook: Playbook,
  facts: IncidentFacts,
): Promise<ResolvedStep[]> {
  const out: ResolvedStep[] = [];
  for (const [position, s] of playbook.steps.entries()) {
    const def = ACTION_DEFS[s.action];
    const r = await def.resolve(deps.ports, facts, s.from ?? ['assets']);
    const byMode = r.vehicles.length > deps.approvalVehicleThreshold ? 2 : s.mode === 'approval' ? 1 : 0;
    const approval = Math.max(byMode, def.minApproval ?? 0, r.minApproval ?? 0) as 0 | 1 | 2;
    out.push({
      position,
      stepId: s.id,
      action: s.action,
      mode: s.mode,
      targetKind: r.targetKind,
      targets: r.targets,
      params: s.params ?? {},
      vehicleCount: r.vehicles.length,
      approval,
    });
  }
  return out;
}

const notFound = () => new CarapaceError('ERR_NOT_FOUND', 'no such playbook step');

/** The run engine: starts runs, runs their steps in order, pauses at a step that waits for approval. */
export function createRunEngine(deps: RunDeps) {
  const { db, audit, clock } = deps;
  const operator = (name: string) => ({ type: 'operator' as const, id: name });
  const timeline = (trx: Kysely<Database>, incident: IncidentFacts, s: Parameters<typeof recordStep>[2]) =>
    recordStep(trx, { audit, at: clock.now() }, { ...s, incidentId: incident.id, tenantId: incident.tenantId });

  async function finishRun(run: Selectable<IncidentRunRow>, state: 'done' | 'failed', facts: IncidentFacts) {
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('incident_runs')
        .set({ state, finished_at: clock.now().toISOString() })
        .where('id', '=', run.id)
        .execute();
      await timeline(trx, facts, {
        incidentId: facts.id,
        tenantId: facts.tenantId,
        type: 'incidents.playbook.run_finished',
        kind: 'playbook_run',
        actor: operator(run.requested_by),
        summary: `playbook ${run.playbook_id} v${run.playbook_version}: ${state}`,
        decision: state === 'done' ? 'allow' : 'deny',
        details: { runId: run.id, playbookId: run.playbook_id, state },
      });
    });
  }

  /** True when the run has containment steps and every one of them is done. */
  const containedBy = (steps: Selectable<IncidentStepRow>[]) => {
    const c = steps.filter((s) => ACTION_DEFS[s.action as keyof typeof ACTION_DEFS].containment);
    return c.length > 0 && c.every((s) => s.state === 'done');
  };

  /** Runs one step whose decision is made; false when it failed (the run stops there). */
  async function execute(
    step: Selectable<IncidentStepRow>,
    run: Selectable<IncidentRunRow>,
    context: RequestContext | null,
  ) {
    const claimed = await db
      .updateTable('incident_steps')
      .set({ state: 'running', started_at: clock.now().toISOString() })
      .where('id', '=', step.id)
      .where('state', '=', 'pending')
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) return null; // another request runs it
    const facts = await deps.facts(run.incident_id);
    const actor = operator(step.decided_by ?? run.requested_by);
    let result: Record<string, unknown> | null = null;
    let error: string | null = null;
    try {
      result = await ACTION_DEFS[step.action as keyof typeof ACTION_DEFS].run(deps.ports, {
        incident: facts,
        targets: JSON.parse(step.targets) as string[],
        params: JSON.parse(step.params) as Record<string, never>,
        actor,
        reason: `playbook ${run.playbook_id} step ${step.step_id}`,
        context,
      });
    } catch (err) {
      error = err instanceof CarapaceError ? `${err.code}: ${err.message}` : 'internal error';
    }
    // Effective: the owning module has committed the change and announced it to every node.
    const at = clock.now().toISOString();
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('incident_steps')
        .set({
          state: error ? 'failed' : 'done',
          effective_at: error ? null : at,
          result: result ? JSON.stringify(result) : null,
          error,
        })
        .where('id', '=', step.id)
        .execute();
      await timeline(trx, facts, {
        incidentId: facts.id,
        tenantId: facts.tenantId,
        type: error ? 'incidents.playbook.step_failed' : 'incidents.playbook.step_done',
        kind: 'playbook_step',
        actor,
        summary:
          `${run.playbook_id}/${step.step_id} ${step.action} on ${step.vehicle_count} vehicle(s): ` + (error ?? 'done'),
        decision: error ? 'deny' : 'allow',
        reason: error,
        context,
        details: {
          runId: run.id,
          stepId: step.id,
          action: step.action,
          targetKind: step.target_kind,
          vehicles: step.vehicle_count,
        },
      });
    });
    return error === null;
  }

  /** Runs the run's steps in order from where it stands, until one waits for approval, fails, or all are done. */
  async function advance(runId: string, context: RequestContext | null): Promise<void> {
    const run = await db.selectFrom('incident_runs').selectAll().where('id', '=', runId).executeTakeFirstOrThrow();
    const steps = await db
      .selectFrom('incident_steps')
      .selectAll()
      .where('run_id', '=', runId)
      .orderBy('position')
      .execute();
    const settle = async () => {
      const now = await db.selectFrom('incident_steps').selectAll().where('run_id', '=', runId).execute();
      if (containedBy(now)) await deps.contained(run.incident_id, run.id);
    };
    for (const step of steps) {
      if (step.state === 'done' || step.state === 'rejected') continue;
      if (step.state === 'failed') return finishRun(run, 'failed', await deps.facts(run.incident_id));
      if (step.state === 'awaiting_approval' || step.state === 'running') return;
      if (step.approval > 0 && step.decided_at === null) {
        await settle();
        return awaitApproval(run, step, context);
      }
      const ok = await execute(step, run, context);
      if (ok === null) return;
      if (!ok) return finishRun(run, 'failed', await deps.facts(run.incident_id));
    }
    await settle();
    await finishRun(run, 'done', await deps.facts(run.incident_id));
  }

  async function awaitApproval(
    run: Selectable<IncidentRunRow>,
    step: Selectable<IncidentStepRow>,
    context: RequestContext | null,
  ) {
    const facts = await deps.facts(run.incident_id);
    await db.transaction().execute(async (trx) => {
      await trx.updateTable('incident_steps').set({ state: 'awaiting_approval' }).where('id', '=', step.id).execute();
      await trx.updateTable('incident_runs').set({ state: 'awaiting_approval' }).where('id', '=', run.id).execute();
      await timeline(trx, facts, {
        incidentId: facts.id,
        tenantId: facts.tenantId,
        type: 'incidents.playbook.step_awaiting_approval',
        kind: 'playbook_step',
        actor: operator(run.requested_by),
        summary:
          `${run.playbook_id}/${step.step_id} ${step.action} on ${step.vehicle_count} vehicle(s) waits for ` +
          (step.approval === 2 ? "a second operator's approval" : 'approval'),
        context,
        details: { runId: run.id, stepId: step.id, approval: step.approval, vehicles: step.vehicle_count },
      });
    });
  }

  return {
    /** Starts a run: the resolved steps become rows, then run in order. Returns the run id. */
    async start(playbook: Playbook, incidentId: string, requestedBy: string, context: RequestContext | null) {
      const facts = await deps.facts(incidentId);
      const steps = await resolvePlaybook(deps, playbook, facts);
      const runId = newId();
      const at = clock.now().toISOString();
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('incident_runs')
          .values({
            id: runId,
            incident_id: incidentId,
            playbook_id: playbook.id,
            playbook_version: playbook.version,
            requested_by: requestedBy,
            state: 'running',
            created_at: at,
            finished_at: null,
          })
          .execute();
        for (const s of steps)
          await trx
            .insertInto('incident_steps')
            .values({
              id: newId(),
              run_id: runId,
              incident_id: incidentId,
              position: s.position,
              step_id: s.stepId,
              action: s.action,
              target_kind: s.targetKind,
              targets: JSON.stringify(s.targets),
              params: JSON.stringify(s.params),
              vehicle_count: s.vehicleCount,
              approval: s.approval,
              state: 'pending',
              // An automatic step is decided by the run's request; an approval step by its approver.
              decided_by: s.approval === 0 ? requestedBy : null,
              decided_at: s.approval === 0 ? at : null,
              started_at: null,
              effective_at: null,
              result: null,
              error: null,
            })
            .execute();
        await timeline(trx, facts, {
          incidentId,
          tenantId: facts.tenantId,
          type: 'incidents.playbook.run_started',
          kind: 'playbook_run',
          actor: operator(requestedBy),
          summary: `playbook ${playbook.id} v${playbook.version} started (${steps.length} steps)`,
          context,
          details: { runId, playbookId: playbook.id, version: playbook.version, steps: steps.length },
        });
      });
      await advance(runId, context);
      return runId;
    },

    /**
     * Approves or rejects a step waiting for approval. Under the two-person rule the approver must not be the
     * operator who started the run: refused with ERR_INCIDENT_APPROVAL_REFUSED and audited. A rejected step is
     * skipped and the run goes on.
     */
    async decide(
      stepId: string,
      decision: 'approve' | 'reject',
      by: string,
      reason: string,
      context: RequestContext | null,
    ): Promise<string> {
      const step = await db.selectFrom('incident_steps').selectAll().where('id', '=', stepId).executeTakeFirst();
      if (!step) throw notFound();
      const run = await db
        .selectFrom('incident_runs')
        .selectAll()
        .where('id', '=', step.run_id)
        .executeTakeFirstOrThrow();
      const facts = await deps.facts(run.incident_id);
      if (step.state !== 'awaiting_approval')
        throw new CarapaceError('ERR_CONFLICT', `the step is ${step.state}, not waiting for approval`, { stepId });
      if (step.approval === 2 && by === run.requested_by) {
        await audit.append(db, {
          type: 'incidents.playbook.step_approval_refused',
          actor: operator(by),
          tenantId: facts.tenantId,
          object: { type: 'incident', id: facts.id },
          action: 'incidents:approve_step',
          decision: 'deny',
          reason: 'two_person_rule',
          context,
          details: { runId: run.id, stepId, requestedBy: run.requested_by, vehicles: step.vehicle_count },
        });
        throw new CarapaceError(
          'ERR_INCIDENT_APPROVAL_REFUSED',
          'this step needs a second operator (it touches more vehicles than the approval threshold, or its action ' +
            'always does): the operator who started the run cannot approve it',
          { stepId, reason: 'two_person_rule' },
        );
      }
      const at = clock.now().toISOString();
      await db.transaction().execute(async (trx) => {
        const r = await trx
          .updateTable('incident_steps')
          .set({ state: decision === 'approve' ? 'pending' : 'rejected', decided_by: by, decided_at: at })
          .where('id', '=', stepId)
          .where('state', '=', 'awaiting_approval')
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) !== 1)
          throw new CarapaceError('ERR_CONFLICT', 'the step was decided concurrently', { stepId });
        await trx.updateTable('incident_runs').set({ state: 'running' }).where('id', '=', run.id).execute();
        await timeline(trx, facts, {
          incidentId: facts.id,
          tenantId: facts.tenantId,
          type: decision === 'approve' ? 'incidents.playbook.step_approved' : 'incidents.playbook.step_rejected',
          kind: 'playbook_step',
          actor: operator(by),
          summary: `${run.playbook_id}/${step.step_id} ${decision === 'approve' ? 'approved' : 'rejected'}: ${reason}`,
          decision: decision === 'approve' ? 'allow' : 'deny',
          reason,
          context,
          details: { runId: run.id, stepId, requestedBy: run.requested_by, approval: step.approval },
        });
      });
      await advance(run.id, context);
      return run.id;
    },
  };
}

/** The run engine. */
export type RunEngine = ReturnType<typeof createRunEngine>;
