import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { tokenOf } from '../auth/index.js';
import { requestContext } from '../http/index.js';
import { CarapaceError, type Tracer, untraced } from '../platform/index.js';
import {
  apiRoute,
  authorizedOf,
  closed,
  decidedPage,
  type DecisionPoint,
  type EntityLoader,
  type LoadedResource,
  type Principal,
  Id,
  load,
  NoQuery,
  NullableString,
  pageCursor,
  PageQuery,
  ref,
  SCAN_MAX,
  type ApiRoutes,
} from '../policy/index.js';
import type { RelationshipRow } from '../relationships/index.js';
import type { Database } from '../storage/index.js';
import { COMMAND_NAMES, COMMAND_SCOPES, commandType } from './catalog.js';
import type { Dispatcher } from './dispatcher.js';
import type { JobFeed } from './job-feed.js';
import { type CommandJob, isFinal, transitionsOf } from './job-store.js';
import { type CommandService, stepUpRequired, validParams } from './service.js';

const CommandBody = Type.Object(
  {
    command: Type.Union(COMMAND_NAMES.map((n) => Type.Literal(n))),
    params: Type.Optional(Type.Object({}, { additionalProperties: true })),
  },
  closed,
);
const Transition = Type.Object(
  { from: NullableString, to: Type.String(), at: Type.String(), actor: Type.String(), reason: Type.String() },
  closed,
);
const Job = Type.Object(
  {
    id: Type.String(),
    vehicleId: Type.String(),
    command: Type.String(),
    // The catalog's parameter schemas are flat and closed; the job shows the parameters it was validated with.
    params: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
    state: Type.String(),
    reason: NullableString,
    retry: NullableString,
    final: Type.Boolean(),
    createdAt: Type.String(),
    expiresAt: Type.String(),
    updatedAt: Type.String(),
    decisionHash: Type.String(),
    policyVersion: Type.String(),
    batchId: NullableString,
    transitions: Type.Optional(Type.Array(Transition)),
  },
  closed,
);
const VehicleParams = Type.Object({ vehicleId: Id }, closed);
const JobParams = Type.Object({ vehicleId: Id, jobId: Id }, closed);
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/** The job as the API shows it (an allow-list: envelopes, acks and the decision record stay inside). */
export function jobView(
  job: CommandJob,
  transitions?: Array<{ from_state: string | null; to_state: string; at: string; actor: string; reason: string }>,
) {
  return {
    id: job.id,
    vehicleId: job.vehicle_id,
    command: job.command,
    params: JSON.parse(job.params) as Record<string, string | number | boolean>,
    state: job.state,
    reason: job.reason,
    retry: job.retry,
    final: isFinal(job.state),
    createdAt: job.created_at,
    expiresAt: job.expires_at,
    updatedAt: job.updated_at,
    decisionHash: job.decision_hash,
    policyVersion: job.policy_version,
    batchId: job.batch_id,
    ...(transitions
      ? {
          transitions: transitions.map((t) => ({
            from: t.from_state,
            to: t.to_state,
            at: t.at,
            actor: t.actor,
            reason: t.reason,
          })),
        }
      : {}),
  };
}

/**
 * When the caller's current relationship with the vehicle began (ownership, or the fleet of a tenant they
 * belong to): they see the vehicle's jobs from then on, plus their own.
 */
function historyStart(rels: RelationshipRow[], userId: string): string | null {
  const starts = rels
    .filter((r) => (r.kind === 'ownership' && r.user_id === userId) || r.kind === 'fleet_vehicle')
    .map((r) => r.valid_from)
    .sort();
  return starts[0] ?? null;
}

/** Reads `command` from the parsed body before validation (the route framework asks Cedar with it). */
export const commandOf = (req: FastifyRequest): string | null => {
  const c = (req.body as { command?: unknown } | null | undefined)?.command;
  return typeof c === 'string' ? c : null;
};

/**
 * The platform operator, a recorded reason and the scope the command needs: what the immobilize and
 * per-command scope rules need in context.
 */
export const commandContext = async (req: FastifyRequest, l: EntityLoader) => {
  const operator = (await l.platform()).object?.operatorTenantId ?? '';
  const reason = (req.body as { params?: { reason?: unknown } } | null | undefined)?.params?.reason;
  const command = commandOf(req);
  const type = command === null ? undefined : commandType(command);
  const scope = type?.scope;
  return {
    operator: ref('Tenant', operator),
    ...(typeof reason === 'string' && reason.trim().length >= 10 ? { reason } : {}),
    ...(scope ? { commandScope: scope } : {}),
    ...(type?.stepUp ? { stepUp: true } : {}),
  };
};

/**
 * A job of the authorized vehicle as a Cedar resource, with when the caller's relationship with the vehicle
 * began; a job of another vehicle loads as missing.
 */
function jobIn(db: Kysely<Database>) {
  return async (req: FastifyRequest, outer: LoadedResource, principal: Principal) => {
    const vehicle = outer.object as { id: string; relationships: RelationshipRow[] };
    const jobId = (req.params as { jobId: string }).jobId;
    const job = await db
      .selectFrom('command_jobs')
      .selectAll()
      .where('id', '=', jobId)
      .where('vehicle_id', '=', vehicle.id)
      .executeTakeFirst();
    return { resource: jobResource(outer, jobId, job) as LoadedResource, context: sinceContext(vehicle, principal) };
  };
}

/** A job as the Cedar resource `CommandJob` (null object when missing), inside its vehicle's entities. */
function jobResource(outer: LoadedResource, jobId: string, job: CommandJob | undefined): LoadedResource<CommandJob> {
  const vehicleId = (outer.object as { id: string } | null)?.id ?? '';
  const uid = { type: 'CommandJob', id: jobId };
  return {
    uid,
    entities: [
      {
        uid,
        attrs: {
          vehicle: ref('Vehicle', vehicleId),
          requester: ref('User', job?.requester_id ?? ''),
          createdAt: job ? Date.parse(job.created_at) : 0,
        },
      },
      ...outer.entities,
    ],
    object: job ?? null,
    vehicleId,
    tenantId: outer.tenantId ?? null,
  };
}

/** When the caller's relationship with the vehicle began, as the job rules read it from the context. */
function sinceContext(vehicle: { relationships: RelationshipRow[] }, principal: Principal): Record<string, number> {
  const since = historyStart(vehicle.relationships, principal.kind === 'user' ? principal.userId : '');
  return since === null ? {} : { relationshipSince: Date.parse(since) };
}

/** Where the next page of a vehicle's jobs starts. */
const JOB_CURSOR = pageCursor('jobs');

/** The command API on the public listener: request, read, list and follow jobs. */
export function registerCommandRoutes(
  routes: ApiRoutes,
  deps: {
    db: Kysely<Database>;
    service: CommandService;
    dispatcher: Dispatcher;
    /** Pushes the state changes of followed jobs (server-sent events). */
    feed: JobFeed;
    decisions: DecisionPoint;
    load: EntityLoader;
    stepUpMaxAge: number;
    clock: { now(): Date };
    /** The span of each job's creation, parent of its dispatch (untraced when absent). */
    tracer?: Tracer;
  },
): void {
  const tracer = deps.tracer ?? untraced;
  routes.post(
    '/v1/vehicles/:vehicleId/commands',
    {
      ...apiRoute({
        owner: 'commands',
        purpose:
          "Request a remote command; answers 202 with the job, which is confirmed only by the vehicle's signed acknowledgement.",
        action: 'vehicle:command',
        scopes: COMMAND_SCOPES,
        anyScope: true,
        safetyImpact: 'high',
        authorize: {
          resource: load.vehicle(),
          visibleWith: 'vehicle:read',
          command: commandOf,
          extraContext: commandContext,
          // The token must hold the command's own scope: decided by commands.missing-scope in the policies.
          denialReasons: { 'commands.missing-scope': 'missing_scope' },
          // A step-up command without a recent second factor: decided by guardrail.step-up-commands.
          denialErrors: { 'guardrail.step-up-commands': () => stepUpRequired(deps.stepUpMaxAge) },
        },
      }),
      schema: { params: VehicleParams, querystring: NoQuery, body: CommandBody, response: { 202: Job, 200: Job } },
    },
    async (req, reply) => {
      const {
        object: vehicle,
        principal,
        decision,
      } = authorizedOf<{ id: string; relationships: RelationshipRow[] }>(req);
      const token = tokenOf(req);
      const body = req.body as { command: string; params?: unknown };
      const type = commandType(body.command);
      if (!type || principal.kind !== 'user')
        throw new CarapaceError('ERR_VALIDATION', 'unknown command', { field: 'body.command' });
      const params = validParams(type, body.params);
      const key = req.headers['idempotency-key'];
      if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)))
        throw new CarapaceError('ERR_VALIDATION', 'Idempotency-Key must be 1 to 200 printable characters', {
          field: 'header.idempotency-key',
        });
      if (type.physical && !key)
        throw new CarapaceError(
          'ERR_IDEMPOTENCY_KEY_REQUIRED',
          `${type.name} is a physical command: send an Idempotency-Key header`,
        );
      const span = tracer.start('commands.job.create', req.traceparent, { 'carapace.command': type.name });
      const { job, created } = await deps.service
        .request(
          { userId: principal.userId, token, vehicle, decision, command: type, params, context: requestContext(req) },
          key ?? null,
        )
        .finally(() => span.end());
      span.set('carapace.job.id', job.id);
      span.set('carapace.job.state', job.state);
      if (created) deps.dispatcher.changed(job);
      if (job.state === 'rejected')
        throw new CarapaceError('ERR_COMMAND_REJECTED', `the command was rejected: ${job.reason ?? 'unknown'}`, {
          reason: job.reason,
          job: job.id,
        });
      const trace = { jobId: job.id, traceparent: span.traceparent };
      if (created) void deps.dispatcher.kick(job.vehicle_id, trace).catch(() => undefined);
      return reply.code(created ? 202 : 200).send(jobView(job));
    },
  );

  routes.get(
    '/v1/vehicles/:vehicleId/commands',
    {
      ...apiRoute({
        owner: 'commands',
        purpose: 'The command jobs of a vehicle, newest first.',
        action: 'vehicle:list_commands',
        scopes: ['vehicle:read_status'],
        authorize: { resource: load.vehicle(), visibleWith: 'vehicle:read' },
      }),
      schema: {
        params: VehicleParams,
        querystring: PageQuery,
        response: { 200: Type.Object({ jobs: Type.Array(Job), next: Type.Optional(Type.String()) }, closed) },
      },
    },
    async (req) => {
      const {
        object,
        principal,
        resource: outer,
      } = authorizedOf<{ id: string; relationships: RelationshipRow[] }>(req);
      const after = JOB_CURSOR.read((req.query as { cursor?: string }).cursor);
      // Candidates newest first; which of them the caller reads is the policies' decision (command_job:read): a
      // new owner or fleet sees the jobs of their own time with the vehicle, never the previous holder's.
      const candidates = await deps.db
        .selectFrom('command_jobs')
        .selectAll()
        .where('vehicle_id', '=', object.id)
        .$if(after !== null, (q) =>
          q.where((eb) =>
            eb.or([
              eb('created_at', '<', after!.key),
              eb.and([eb('created_at', '=', after!.key), eb('id', '<', after!.id)]),
            ]),
          ),
        )
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(SCAN_MAX + 1)
        .execute();
      const { page, next } = await decidedPage({
        req,
        deps,
        action: 'command_job:read',
        candidates,
        resourceOf: (j) => jobResource(outer, j.id, j) as LoadedResource,
        positionOf: (j) => ({ key: j.created_at, id: j.id }),
        cursor: JOB_CURSOR,
        extra: sinceContext(object, principal),
      });
      return { jobs: page.map((j) => jobView(j)), ...(next ? { next } : {}) };
    },
  );

  routes.get(
    '/v1/vehicles/:vehicleId/commands/:jobId',
    {
      ...apiRoute({
        owner: 'commands',
        purpose: 'One command job with its transitions.',
        action: 'vehicle:read_command',
        scopes: ['vehicle:read_status'],
        authorize: {
          resource: load.vehicle(),
          visibleWith: 'vehicle:read',
          extraContext: commandContext,
          within: { action: 'command_job:read', resource: jobIn(deps.db) },
        },
      }),
      schema: { params: JobParams, querystring: NoQuery, response: { 200: Job } },
    },
    async (req) => {
      const { object: job, principal } = authorizedOf<CommandJob>(req);
      const me = principal.kind === 'user' ? `user:${principal.userId}` : '';
      // Other people are named by role, never by id: an owner reading a fleet or support job learns what happened, not
      // who.
      const transitions = (await transitionsOf(deps.db, job.id)).map((t) =>
        t.actor.startsWith('user:') && t.actor !== me ? { ...t, actor: 'user' } : t,
      );
      return jobView(job, transitions);
    },
  );

  routes.get(
    '/v1/vehicles/:vehicleId/commands/:jobId/events',
    {
      ...apiRoute({
        owner: 'commands',
        purpose: 'Follow a job as server-sent events until it reaches a final state.',
        action: 'vehicle:read_command',
        scopes: ['vehicle:read_status'],
        authorize: {
          resource: load.vehicle(),
          visibleWith: 'vehicle:read',
          extraContext: commandContext,
          within: { action: 'command_job:read', resource: jobIn(deps.db) },
        },
      }),
      schema: {
        params: JobParams,
        querystring: NoQuery,
        response: { 200: { content: { 'text/event-stream': { schema: Type.String() } } } },
      },
    },
    async (req, reply) => {
      const job = authorizedOf<CommandJob>(req).object;
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      let last = '';
      let done = false;
      const emit = (j: CommandJob) => {
        if (done || j.id !== job.id || `${j.state}` === last) return;
        last = j.state;
        reply.raw.write(`event: state\ndata: ${JSON.stringify(jobView(j))}\n\n`);
        if (isFinal(j.state)) finish();
      };
      const finish = () => {
        done = true;
        unfollow();
        reply.raw.end();
      };
      // Changes made here arrive at once; the feed brings those made on another process (see job-feed.ts).
      const unfollow = deps.feed.follow(job.id, emit);
      req.raw.on('close', () => {
        if (!done) finish();
      });
      emit(job);
    },
  );
}
