import type { Kysely, Selectable } from 'kysely';
import type { RequestContext } from '../audit/index.js';
import type { Clock } from '../platform/index.js';
import { newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { CommandAuditLog } from './audit-events.js';
import { type CommandJobRow, FINAL_STATES, type JobState, OPEN_STATES } from './tables.js';

/** A job as stored. */
export type CommandJob = Selectable<CommandJobRow>;

/** The transitions the state machine allows (expiry is handled separately: from any non-final state). */
const NEXT: Record<JobState, readonly JobState[]> = {
  requested: ['authorized', 'rejected'],
  authorized: ['queued', 'rejected'],
  queued: ['delivered', 'rejected'],
  // rejected: a re-send refused at delivery, or a transfer: the first send may have reached the vehicle.
  delivered: ['executed', 'failed', 'rejected'],
  executed: ['confirmed'],
  failed: [],
  rejected: [],
  confirmed: [],
  expired: [],
};

/** Whether a state is final. */
export const isFinal = (s: string): boolean => (FINAL_STATES as readonly string[]).includes(s);

/** One transition to apply. */
export interface Transition {
  to: JobState;
  actor: string;
  reason: string;
  /** Columns that change with the state (envelope, ack, retry advice). */
  set?: Partial<CommandJobRow>;
  /** Apply only while the job has not expired at this instant (ISO time): a late answer confirms nothing. */
  unexpiredAt?: string;
}

/**
 * Moves a job through its states inside the caller's transaction, each step persisted with time, actor and
 * reason and audited as `commands.job.transitioned`. A step from a state that changed meanwhile (another
 * process delivered or expired it) changes nothing and returns null.
 */
export async function transition(
  trx: Kysely<Database>,
  deps: { audit: CommandAuditLog; clock: Clock },
  job: CommandJob,
  step: Transition,
  context?: RequestContext | null,
): Promise<CommandJob | null> {
  if (step.to !== 'expired' && !NEXT[job.state].includes(step.to))
    throw new Error(`command job ${job.id}: ${job.state} -> ${step.to} is not a transition`);
  if (step.to === 'expired' && isFinal(job.state)) return null;
  const at = deps.clock.now().toISOString();
  let update = trx
    .updateTable('command_jobs')
    .set({ ...step.set, state: step.to, reason: step.reason, updated_at: at })
    .where('id', '=', job.id)
    .where('state', '=', job.state);
  if (step.unexpiredAt) update = update.where('expires_at', '>', step.unexpiredAt);
  const updated = await update.executeTakeFirst();
  if (Number(updated.numUpdatedRows) !== 1) return null;
  const last = await trx
    .selectFrom('command_transitions')
    .select((eb) => eb.fn.max('step').as('n'))
    .where('job_id', '=', job.id)
    .executeTakeFirst();
  await trx
    .insertInto('command_transitions')
    .values({
      id: newId(),
      job_id: job.id,
      step: Number(last?.n ?? 0) + 1,
      from_state: job.state,
      to_state: step.to,
      at,
      actor: step.actor,
      reason: step.reason,
    })
    .execute();
  const [actorType, actorId] = step.actor.split(':', 2) as [string, string | undefined];
  await deps.audit.append(trx, {
    type: 'commands.job.transitioned',
    actor: { type: actorType === 'user' ? 'user' : actorType === 'device' ? 'device' : 'system', id: actorId ?? null },
    applicationId: job.client_id,
    tenantId: job.tenant_id,
    object: { type: 'command_job', id: job.id },
    action: `vehicle:command:${job.command}`,
    decision: step.to === 'rejected' || step.to === 'failed' || step.to === 'expired' ? 'deny' : 'allow',
    reason: step.reason,
    policyVersion: job.policy_version,
    context: context ?? null,
    details: {
      from: job.state,
      to: step.to,
      vehicleId: job.vehicle_id,
      decisionHash: job.decision_hash,
      ...(step.set?.retry ? { retry: step.set.retry } : {}),
    },
  });
  return { ...job, ...step.set, state: step.to, reason: step.reason, updated_at: at };
}

/** A job's transitions, oldest first. */
export function transitionsOf(db: Kysely<Database>, jobId: string) {
  return db
    .selectFrom('command_transitions')
    .select(['from_state', 'to_state', 'at', 'actor', 'reason'])
    .where('job_id', '=', jobId)
    .orderBy('step')
    .execute();
}

/** Jobs by id with their outcome, for an investigation (the admin plane): at most 500, unknown ids absent. */
export async function jobOutcomes(db: Kysely<Database>, ids: readonly string[]) {
  if (ids.length === 0) return [];
  return db
    .selectFrom('command_jobs')
    .select(['id', 'vehicle_id', 'command', 'state', 'reason', 'retry', 'requester_id', 'client_id'])
    .select(['batch_id', 'policy_version', 'created_at', 'updated_at'])
    .where('id', 'in', ids.slice(0, 500))
    .execute();
}

/** The fleet's newest jobs with their transitions (the console's fleet view): states and times, no parameters. */
export async function recentJobs(db: Kysely<Database>, limit: number) {
  const jobs = await db
    .selectFrom('command_jobs')
    .select(['id', 'vehicle_id', 'command', 'state', 'reason', 'created_at', 'updated_at'])
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(limit)
    .execute();
  return Promise.all(
    jobs.map(async (j) => ({
      ...j,
      transitions: (await transitionsOf(db, j.id)).map(({ to_state, at }) => ({ to_state, at })),
    })),
  );
}

/** A vehicle's newest jobs with their transitions, for operators (the CLI): no authorization, no API. */
export async function recentJobsOf(db: Kysely<Database>, vehicleId: string, limit: number) {
  const jobs = await db
    .selectFrom('command_jobs')
    .select(['id', 'command', 'state', 'reason', 'retry', 'requester_id', 'created_at', 'decision_hash'])
    .where('vehicle_id', '=', vehicleId)
    .orderBy('created_at', 'desc')
    .limit(limit)
    .execute();
  return Promise.all(
    jobs.map(async (j) => ({
      ...j,
      transitions: (await transitionsOf(db, j.id)).map(({ to_state, at, actor, reason }) => ({
        to_state,
        at,
        actor,
        reason,
      })),
    })),
  );
}

/**
 * Expires every job whose TTL has passed in a non-final state. A job that reached the vehicle may have
 * been executed there, so its retry advice is 'unsafe'; one that never left the platform is 'safe'.
 */
export async function expireDue(
  db: Kysely<Database>,
  deps: { audit: CommandAuditLog; clock: Clock },
  filter: { jobId?: string; limit?: number } = {},
): Promise<CommandJob[]> {
  const now = deps.clock.now().toISOString();
  let q = db
    .selectFrom('command_jobs')
    .selectAll()
    .where('expires_at', '<=', now)
    .where('state', 'in', [...OPEN_STATES]);
  if (filter.jobId) q = q.where('id', '=', filter.jobId);
  const due = await q.limit(filter.limit ?? 200).execute();
  const out: CommandJob[] = [];
  for (const job of due) {
    const retry = job.state === 'delivered' || job.state === 'executed' ? 'unsafe' : 'safe';
    const done = await db.transaction().execute((trx) =>
      transition(trx, deps, job, {
        to: 'expired',
        actor: 'system:expiry',
        reason: `ttl passed in state ${job.state}`,
        set: { retry },
      }),
    );
    if (done) out.push(done);
  }
  return out;
}
