import { Value } from '@sinclair/typebox/value';
import type { Kysely } from 'kysely';
import type { RequestContext } from '../audit/index.js';
import { ACR } from '../auth/index.js';
import type { VerifiedToken } from '../auth/index.js';
import type { Clock } from '../platform/index.js';
import { CarapaceError, faultPoint } from '../platform/index.js';
import { newId } from '../platform/index.js';
import type { CommandAuditLog } from './audit-events.js';
import type { Decision } from '../policy/index.js';
import { consumeApproval, openApproval, type RelationshipRow } from '../relationships/index.js';
import { tenantsWhereRole } from '../identity/index.js';
import { currentDeviceOf } from '../pki/index.js';
import type { Database } from '../storage/index.js';
import { readVehicleState } from '../telemetry/index.js';
import { canonicalJson, paramsHash, sha256 } from '../wire/index.js';
import { type CommandType, COMMAND_CATALOG } from './catalog.js';
import { backendInstance, type DecisionRecord, decisionHash } from './decision-record.js';
import type { Idempotency } from './idempotency.js';
import { resolveHeldKey } from './held-keys.js';
import { type CommandJob, isFinal, transition } from './job-store.js';
import { lockJobScopes, tenantLock, vehicleLock } from './job-locks.js';
import { enforceLimits, type LimitCounter } from './limits.js';
import { OPEN_STATES } from './tables.js';
import { checkVehicleState } from './vehicle-safety.js';

/** Settings of the request path (from `commands.*`). */
export interface CommandSettings {
  stepUpMaxAge: number;
  stateMaxAge: number;
  rateWindow: number;
  perUser: number;
  perClient: number;
  perVehicle: number;
  perTenant: number;
  global: number;
  tenantConcurrency: number;
  bulkMaxVehicles: number;
}

/** A job built from a request: the step that persists it, and the rows its transaction locks first. */
interface PreparedJob {
  persist: (trx: Kysely<Database>) => Promise<CommandJob>;
  locks: string[];
}

/** One command request, after the route framework authorized `vehicle:command` for this command. */
export interface CommandRequest {
  userId: string;
  token: VerifiedToken;
  vehicle: { id: string; relationships: RelationshipRow[] };
  decision: Decision;
  command: CommandType;
  params: Record<string, unknown>;
  batchId?: string | null;
  context: RequestContext;
}

/** The tenant a vehicle's commands count against: its fleet, or the household in which its owner is owner. */
export async function tenantOf(db: Kysely<Database>, rels: RelationshipRow[]): Promise<string | null> {
  const fleet = rels.find((r) => r.kind === 'fleet_vehicle')?.tenant_id;
  if (fleet) return fleet;
  const owner = rels.find((r) => r.kind === 'ownership')?.user_id;
  if (!owner) return null;
  const [home] = await tenantsWhereRole(db, owner, 'owner');
  return home ?? null;
}

/**
 * The refusal of a step-up command to a sign-in without a recent second factor (decided by the policy
 * `guardrail.step-up-commands`); the error handler sends the RFC 9470 challenge with it.
 */
export function stepUpRequired(maxAgeSeconds: number): CarapaceError {
  return new CarapaceError('ERR_STEP_UP_REQUIRED', 'this command needs a recent sign-in with a second factor', {
    acrValues: ACR.mfa,
    maxAge: maxAgeSeconds,
  });
}

/** Validates parameters against the command's closed schema. */
export function validParams(type: CommandType, params: unknown): Record<string, unknown> {
  const p = params ?? {};
  if (!Value.Check(type.params, p))
    throw new CarapaceError('ERR_VALIDATION', `params do not match the ${type.name} schema`, { field: 'body.params' });
  return p as Record<string, unknown>;
}

/** Who holds the Idempotency-Key a result is created under. */
interface KeyOwner {
  principal: string;
  keyHash: string;
}

/**
 * The request path of a command: limits, vehicle state, conflicts and the tenant's concurrency cap, then
 * the job with its decision record, persisted and audited in one transaction (requested -> authorized ->
 * queued, or -> rejected with the reason).
 */
export function createCommandService(deps: {
  db: Kysely<Database>;
  audit: CommandAuditLog;
  clock: Clock;
  settings: CommandSettings;
  limits: LimitCounter;
  idempotency: Idempotency;
  isQuarantined: (deviceId: string) => Promise<boolean>;
}) {
  const { db, clock, settings } = deps;

  async function limitsFor(req: CommandRequest, n: number, tenant: string | null): Promise<void> {
    const w = settings.rateWindow;
    const over = await enforceLimits(
      deps.limits,
      [
        { name: 'user', key: req.userId, max: settings.perUser, windowSeconds: w, n },
        { name: 'client', key: req.token.clientId, max: settings.perClient, windowSeconds: w, n },
        { name: 'vehicle', key: req.vehicle.id, max: settings.perVehicle, windowSeconds: w, n: 1 },
        { name: 'tenant', key: tenant ?? 'none', max: settings.perTenant, windowSeconds: w, n },
        { name: 'global', key: 'all', max: settings.global, windowSeconds: w, n },
        // The sequence limit of the command type on this vehicle (repeated unlock attempts and the like).
        {
          name: `sequence:${req.command.name}`,
          key: req.vehicle.id,
          max: req.command.rate.max,
          windowSeconds: req.command.rate.windowSeconds,
          n: 1,
        },
      ],
      clock.now().getTime(),
    );
    if (over)
      throw new CarapaceError('ERR_COMMAND_RATE_LIMITED', `too many commands (${over.name} limit)`, {
        retryAfter: over.retryAfter,
        reason: over.name,
      });
  }

  /**
   * Builds a job from an authorized, limit-checked request and returns the step that persists it in a
   * transaction. Everything read from the database is read here, before the transaction (on SQLite the
   * outer handle would wait for the transaction), so a batch can persist all its jobs in one commit.
   */
  async function prepareJob(req: CommandRequest, jobId: string): Promise<PreparedJob> {
    const now = clock.now();
    const type = req.command;
    const tenant = await tenantOf(db, req.vehicle.relationships);
    const state = checkVehicleState(type, await readVehicleState(db, req.vehicle.id), now, settings.stateMaxAge);
    const device = await currentDeviceOf(db, req.vehicle.id, ['active', 'quarantined']);
    const quarantined = device ? device.status === 'quarantined' || (await deps.isQuarantined(device.id)) : false;
    const scopeVia = req.token.scopes.has(type.scope) ? type.scope : 'fleet:command';
    // A support agent commands only on a just-in-time approval; the job consumes it (once).
    const approval = req.decision.reasons.includes('support.agent-command-with-approval')
      ? await openApproval(db, {
          agentId: req.userId,
          vehicleId: req.vehicle.id,
          command: type.name,
          at: now.toISOString(),
        })
      : undefined;
    const record: DecisionRecord = {
      application: { clientId: req.token.clientId },
      user: {
        id: req.userId,
        acr: req.token.acr,
        authTime: req.token.authTime,
        stepUp: type.stepUp ? 'required_and_met' : 'not_required',
      },
      relationship: [
        ...req.vehicle.relationships
          .filter((r) => r.user_id === req.userId || r.kind === 'fleet_vehicle' || r.kind === 'support_case')
          .map((r) => ({ kind: r.kind, id: r.id })),
        ...(approval ? [{ kind: 'jit_approval', id: approval.id }] : []),
      ].sort((a, b) => a.id.localeCompare(b.id)),
      role: [...req.decision.reasons].sort(),
      scope: { required: type.scope, granted: true, via: scopeVia },
      command: { name: type.name, risk: type.risk, paramsHash: paramsHash(req.params), ttlSeconds: type.ttlSeconds },
      vehicleState: state.snapshot,
      policy: { version: req.decision.policyVersion, permits: [...req.decision.reasons].sort() },
      backendService: { service: 'carapace-commands', instance: backendInstance() },
      decidedAt: now.toISOString(),
    };
    const row: CommandJob = {
      id: jobId,
      vehicle_id: req.vehicle.id,
      device_id: device?.id ?? null,
      tenant_id: tenant,
      batch_id: req.batchId ?? null,
      command: type.name,
      params: canonicalJson(req.params),
      params_hash: record.command.paramsHash,
      requester_id: req.userId,
      client_id: req.token.clientId,
      state: 'requested',
      reason: 'requested',
      retry: null,
      decision_record: canonicalJson(record),
      decision_hash: decisionHash(record),
      policy_version: req.decision.policyVersion,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + type.ttlSeconds * 1000).toISOString(),
      updated_at: now.toISOString(),
      counter: null,
      kid: null,
      envelope_signed: null,
      envelope_sig: null,
      ack_signed: null,
      ack_sig: null,
    };
    const actor = `user:${req.userId}`;
    const persist = async (trx: Kysely<Database>) => {
      await trx.insertInto('command_jobs').values(row).execute();
      await trx
        .insertInto('command_transitions')
        .values({
          id: newId(),
          job_id: jobId,
          step: 1,
          from_state: null,
          to_state: 'requested',
          at: row.created_at,
          actor,
          reason: 'requested',
        })
        .execute();
      await deps.audit.append(trx, {
        type: 'commands.job.requested',
        actor: { type: 'user', id: req.userId },
        applicationId: req.token.clientId,
        tenantId: tenant,
        object: { type: 'command_job', id: jobId },
        action: `vehicle:command:${type.name}`,
        decision: 'info',
        policyVersion: req.decision.policyVersion,
        context: req.context,
        details: {
          vehicleId: req.vehicle.id,
          jti: req.token.jti,
          decisionHash: row.decision_hash,
          chain_application: req.token.clientId,
          chain_user: req.userId,
          chain_acr: req.token.acr ?? 'none',
          chain_relationships: record.relationship.map((r) => `${r.kind}:${r.id}`),
          chain_roles: record.role,
          chain_scope: `${type.scope} via ${scopeVia}`,
          chain_command: `${type.name} (${type.risk})`,
          chain_vehicle_state: state.reason,
          chain_policy_version: req.decision.policyVersion,
          chain_backend: record.backendService.instance,
          ...(req.batchId ? { batchId: req.batchId } : {}),
        },
      });
      const reject = (reason: string) =>
        transition(
          trx,
          deps,
          row,
          { to: 'rejected', actor: 'system:commands', reason, set: { retry: 'safe' } },
          req.context,
        );
      if (!state.ok) return (await reject(state.reason)) as CommandJob;
      if (!device || quarantined)
        return (await reject(!device ? 'no_active_device' : 'device_quarantined')) as CommandJob;
      const inFlight = await trx
        .selectFrom('command_jobs')
        .select(['id', 'command'])
        .where('vehicle_id', '=', req.vehicle.id)
        .where('id', '!=', jobId)
        .where('state', 'in', [...OPEN_STATES])
        .where('expires_at', '>', now.toISOString())
        .execute();
      const group = type.conflictGroup;
      if (inFlight.some((j) => COMMAND_CATALOG[j.command as keyof typeof COMMAND_CATALOG]?.conflictGroup === group))
        return (await reject('conflicting_command_in_flight')) as CommandJob;
      if (approval) {
        if (!(await consumeApproval(trx, approval.id, now.toISOString())))
          return (await reject('approval_already_used')) as CommandJob;
      }
      if (tenant) {
        const open = await trx
          .selectFrom('command_jobs')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('tenant_id', '=', tenant)
          .where('state', 'in', [...OPEN_STATES])
          .where('expires_at', '>', now.toISOString())
          .executeTakeFirstOrThrow();
        if (Number(open.n) > settings.tenantConcurrency) return (await reject('tenant_concurrency_cap')) as CommandJob;
      }
      const authorized = await transition(
        trx,
        deps,
        row,
        {
          to: 'authorized',
          actor,
          reason: `permitted by ${record.policy.permits.join(',') || 'policy'}; vehicle state ${state.reason}`,
        },
        req.context,
      );
      return (await transition(
        trx,
        deps,
        authorized as CommandJob,
        { to: 'queued', actor: 'system:commands', reason: 'waiting for the vehicle channel' },
        req.context,
      )) as CommandJob;
    };
    // The rows the transaction must lock before `persist` counts in-flight jobs (see job-locks.ts).
    return { persist, locks: [vehicleLock(req.vehicle.id), ...(tenant ? [tenantLock(tenant)] : [])] };
  }

  /** Inside the result's transaction: the key still belongs to this request (a retry may have reclaimed it). */
  async function confirmOwner(trx: Kysely<Database>, owner: KeyOwner | null, resultId: string): Promise<void> {
    if (owner && !(await deps.idempotency.confirm(trx, owner.principal, owner.keyHash, resultId)))
      throw new CarapaceError('ERR_CONFLICT', 'a retry took this Idempotency-Key over; its job is the one');
  }

  /** Creates the job (and its transitions) for an authorized, limit-checked request, in one transaction. */
  async function createJob(req: CommandRequest, jobId: string, owner: KeyOwner | null): Promise<CommandJob> {
    const { persist, locks } = await prepareJob(req, jobId);
    return db.transaction().execute(async (trx) => {
      await lockJobScopes(trx, locks);
      await confirmOwner(trx, owner, jobId);
      return persist(trx);
    });
  }

  const findJob = async (id: string) =>
    (await db.selectFrom('command_jobs').selectAll().where('id', '=', id).executeTakeFirst()) ?? null;

  return {
    /**
     * Handles one authorized command request. Returns the job and whether this request created it (false:
     * the same Idempotency-Key and body came before, and this is that job).
     */
    async request(req: CommandRequest, idempotencyKey: string | null): Promise<{ job: CommandJob; created: boolean }> {
      const jobId = newId();
      const requestHash = sha256(
        canonicalJson({ vehicleId: req.vehicle.id, command: req.command.name, params: req.params }),
      );
      const principal = `user:${req.userId}`;
      const keyHash = idempotencyKey ? sha256(idempotencyKey) : null;
      if (keyHash) {
        const held = await deps.idempotency.reserve(principal, keyHash, requestHash, jobId);
        if (!held.mine) {
          const key = { idempotency: deps.idempotency, principal, keyHash, requestHash, held, resultId: jobId };
          const outcome = await resolveHeldKey({ ...key, find: findJob });
          if ('result' in outcome) return { job: outcome.result, created: false };
        }
        // Between the reservation's commit and the job's: where a crash used to orphan the key for 24 hours.
        await faultPoint('commands.after-reservation');
      }
      try {
        await limitsFor(req, 1, await tenantOf(db, req.vehicle.relationships));
        return { job: await createJob(req, jobId, keyHash ? { principal, keyHash } : null), created: true };
      } catch (err) {
        if (keyHash) await deps.idempotency.release(principal, keyHash, jobId);
        throw err;
      }
    },
    /** Counts a fleet batch against every limit at once (each vehicle counts), before its jobs are made. */
    async batchLimits(
      req: Omit<CommandRequest, 'vehicle' | 'decision'>,
      tenantId: string,
      vehicleIds: string[],
    ): Promise<void> {
      const w = settings.rateWindow;
      const n = vehicleIds.length;
      const checks = [
        { name: 'user', key: req.userId, max: settings.perUser, windowSeconds: w, n },
        { name: 'client', key: req.token.clientId, max: settings.perClient, windowSeconds: w, n },
        { name: 'tenant', key: tenantId, max: settings.perTenant, windowSeconds: w, n },
        { name: 'global', key: 'all', max: settings.global, windowSeconds: w, n },
        ...vehicleIds.flatMap((v) => [
          { name: 'vehicle', key: v, max: settings.perVehicle, windowSeconds: w, n: 1 },
          {
            name: `sequence:${req.command.name}`,
            key: v,
            max: req.command.rate.max,
            windowSeconds: req.command.rate.windowSeconds,
            n: 1,
          },
        ]),
      ];
      const over = await enforceLimits(deps.limits, checks, clock.now().getTime());
      if (over)
        throw new CarapaceError('ERR_COMMAND_RATE_LIMITED', `too many commands (${over.name} limit)`, {
          retryAfter: over.retryAfter,
          reason: over.name,
        });
    },
    /**
     * Creates the jobs of a fleet batch (limits were counted for the whole batch) in one transaction: all or none.
     * The tenant's concurrency cap is checked inside it, with the tenant's and every vehicle's rows locked, so two
     * batches cannot both pass the count.
     */
    async createBatch(reqs: CommandRequest[], tenantId: string, idempotencyKey?: string): Promise<CommandJob[]> {
      const steps: PreparedJob[] = [];
      for (const r of reqs) steps.push(await prepareJob(r, newId()));
      const first = reqs[0];
      const owner =
        idempotencyKey && first ? { principal: `user:${first.userId}`, keyHash: sha256(idempotencyKey) } : null;
      return db.transaction().execute(async (trx) => {
        await lockJobScopes(trx, [tenantLock(tenantId), ...steps.flatMap((s) => s.locks)]);
        await confirmOwner(trx, owner, first?.batchId ?? '');
        const open = await trx
          .selectFrom('command_jobs')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('tenant_id', '=', tenantId)
          .where('state', 'in', [...OPEN_STATES])
          .where('expires_at', '>', clock.now().toISOString())
          .executeTakeFirstOrThrow();
        if (Number(open.n) + steps.length > settings.tenantConcurrency)
          throw new CarapaceError('ERR_COMMAND_RATE_LIMITED', 'the fleet has too many commands in flight', {
            retryAfter: 5,
            reason: 'tenant_concurrency',
          });
        const jobs: CommandJob[] = [];
        for (const step of steps) jobs.push(await step.persist(trx));
        return jobs;
      });
    },
    /**
     * Reserves a batch's Idempotency-Key. Null: this request goes ahead (and must `releaseBatch` if it fails
     * before creating the batch). Otherwise the earlier batch's jobs (created in one commit, so all of them).
     */
    async reserveBatch(
      userId: string,
      idempotencyKey: string,
      requestHash: string,
      batchId: string,
    ): Promise<CommandJob[] | null> {
      const [principal, keyHash] = [`user:${userId}`, sha256(idempotencyKey)];
      const held = await deps.idempotency.reserve(principal, keyHash, requestHash, batchId);
      if (held.mine) {
        await faultPoint('commands.batch-after-reservation');
        return null;
      }
      const find = async (id: string) => {
        const jobs = await db
          .selectFrom('command_jobs')
          .selectAll()
          .where('batch_id', '=', id)
          .orderBy('created_at')
          .orderBy('id')
          .execute();
        return jobs.length > 0 ? jobs : null;
      };
      const key = { idempotency: deps.idempotency, principal, keyHash, requestHash, held, resultId: batchId };
      const outcome = await resolveHeldKey({ ...key, find });
      return 'result' in outcome ? outcome.result : null;
    },
    /** Frees a batch reservation whose request was refused before the batch existed. */
    releaseBatch: (userId: string, idempotencyKey: string, batchId: string) =>
      deps.idempotency.release(`user:${userId}`, sha256(idempotencyKey), batchId),
    isFinal,
  };
}

/** The command service. */
export type CommandService = ReturnType<typeof createCommandService>;
