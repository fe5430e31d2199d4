import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { tokenOf } from '../auth/index.js';
import { requestContext } from '../http/index.js';
import { CarapaceError } from '../platform/index.js';
import { newId } from '../platform/index.js';
import {
  apiRoute,
  authorizedOf,
  cedarRequest,
  closed,
  type DecisionPoint,
  type EntityLoader,
  Id,
  load,
  NoQuery,
  ref,
  type ApiRoutes,
} from '../policy/index.js';
import type { Database } from '../storage/index.js';
import { groupVehicleIds } from '../relationships/index.js';
import { COMMAND_NAMES, type CommandType, commandType } from './catalog.js';
import type { Dispatcher } from './dispatcher.js';
import type { CommandJob } from './job-store.js';
import { jobView } from './routes.js';
import { canonicalJson, sha256 } from '../wire/index.js';
import { type CommandService, stepUpRequired, validParams } from './service.js';

const BulkBody = Type.Object(
  {
    command: Type.Union(COMMAND_NAMES.map((n) => Type.Literal(n))),
    params: Type.Optional(Type.Object({}, { additionalProperties: true })),
    vehicleIds: Type.Optional(Type.Array(Id, { minItems: 1, maxItems: 10_000, uniqueItems: true })),
    groupId: Type.Optional(Id),
  },
  closed,
);

/** What the fleet command route needs. */
type BulkDeps = {
  db: Kysely<Database>;
  service: CommandService;
  dispatcher: Dispatcher;
  decisions: DecisionPoint;
  load: EntityLoader;
  stepUpMaxAge: number;
  bulkMax: number;
  clock: { now(): Date };
};

const Batch = Type.Object(
  {
    batchId: Type.String(),
    jobs: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          vehicleId: Type.String(),
          state: Type.String(),
          reason: Type.Union([Type.String(), Type.Null()]),
        },
        closed,
      ),
    ),
  },
  closed,
);

/**
 * `POST /v1/fleets/{tenantId}/commands`: one command to many vehicles of a fleet, by list or by group.
 * All or nothing: every vehicle must be the fleet's and commandable by the caller, or nothing is queued and
 * the answer (422) is the same whichever vehicle failed and why, so it discloses nothing about ids outside
 * the caller's reach. Every vehicle counts against the limits; the batch has a maximum size; step-up applies.
 */
export function registerBulkCommandRoute(routes: ApiRoutes, deps: BulkDeps): void {
  routes.post(
    '/v1/fleets/:tenantId/commands',
    {
      ...apiRoute({
        owner: 'commands',
        purpose: 'Send one command to many vehicles of a fleet (a list or a group), authorized all or nothing.',
        action: 'fleet:command',
        scopes: ['fleet:command'],
        safetyImpact: 'high',
        authorize: { resource: load.tenant(), visibleWith: 'tenant:read' },
      }),
      schema: {
        params: Type.Object({ tenantId: Id }, closed),
        querystring: NoQuery,
        body: BulkBody,
        response: { 202: Batch, 200: Batch },
      },
    },
    async (req, reply) => {
      const { object: tenant, principal } = authorizedOf<{ id: string }>(req);
      const body = req.body as { command: string; params?: unknown; vehicleIds?: string[]; groupId?: string };
      const type = commandType(body.command);
      if (!type || principal.kind !== 'user')
        throw new CarapaceError('ERR_VALIDATION', 'unknown command', { field: 'body.command' });
      if ((body.vehicleIds ? 1 : 0) + (body.groupId ? 1 : 0) !== 1)
        throw new CarapaceError('ERR_VALIDATION', 'name either vehicleIds or groupId', { field: 'body' });
      const params = validParams(type, body.params);
      const key = req.headers['idempotency-key'];
      if (key !== undefined && (typeof key !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(key)))
        throw new CarapaceError('ERR_VALIDATION', 'Idempotency-Key must be 1 to 200 printable characters', {
          field: 'header.idempotency-key',
        });
      if (type.physical && !key)
        throw new CarapaceError(
          'ERR_IDEMPOTENCY_KEY_REQUIRED',
          `${type.name} is a physical command: send an Idempotency-Key header`,
        );
      const batchId = newId();
      if (key) {
        const requestHash = sha256(
          canonicalJson({
            tenant: tenant.id,
            command: type.name,
            params,
            vehicleIds: body.vehicleIds ? [...body.vehicleIds].sort() : null,
            groupId: body.groupId ?? null,
          }),
        );
        const earlier = await deps.service.reserveBatch(principal.userId, key, requestHash, batchId);
        if (earlier) return reply.code(200).send(batchView(earlier[0]?.batch_id ?? '', earlier));
      }
      try {
        const jobs = await queueBatch(deps, req, {
          tenantId: tenant.id,
          userId: principal.userId,
          clientId: principal.clientId,
          type,
          params,
          body,
          batchId,
          idempotencyKey: key ?? null,
        });
        for (const job of jobs)
          if (job.state === 'queued') void deps.dispatcher.kick(job.vehicle_id).catch(() => undefined);
        return reply.code(202).send(batchView(batchId, jobs));
      } catch (err) {
        if (key) await deps.service.releaseBatch(principal.userId, key, batchId);
        throw err;
      }
    },
  );
}

/** A batch as the API shows it. */
function batchView(batchId: string, jobs: CommandJob[]) {
  return {
    batchId,
    jobs: jobs.map((j) => {
      const v = jobView(j);
      return { id: v.id, vehicleId: v.vehicleId, state: v.state, reason: v.reason };
    }),
  };
}

/**
 * Authorizes a fleet batch all or nothing and creates its jobs in one transaction. Every refusal about the
 * vehicles is the same ERR_BULK_REFUSED, whatever the vehicle and the reason.
 */
async function queueBatch(
  deps: BulkDeps,
  req: FastifyRequest,
  a: {
    tenantId: string;
    userId: string;
    clientId: string;
    type: CommandType;
    params: Record<string, unknown>;
    body: { vehicleIds?: string[]; groupId?: string };
    batchId: string;
    /** The batch's Idempotency-Key, confirmed in the batch's own transaction. */
    idempotencyKey: string | null;
  },
): Promise<CommandJob[]> {
  const { type, params, body, batchId, userId } = a;
  const tenant = { id: a.tenantId };
  const principal = { kind: 'user' as const, userId, clientId: a.clientId };
  const token = tokenOf(req);
  const refused = () =>
    new CarapaceError(
      'ERR_BULK_REFUSED',
      'the batch names vehicles you cannot command in this fleet; nothing was queued',
    );
  let ids = body.vehicleIds ?? [];
  if (body.groupId) {
    ids = await groupVehicleIds(deps.db, { groupId: body.groupId, tenantId: tenant.id });
    if (ids.length === 0) throw refused();
  }
  if (ids.length > deps.bulkMax)
    throw new CarapaceError('ERR_BULK_REFUSED', `a batch holds at most ${deps.bulkMax} vehicles`, {
      reason: 'too_large',
    });
  const entity = await deps.load.principal(principal);
  const operator = (await deps.load.platform()).object?.operatorTenantId ?? '';
  const loaded = await Promise.all(ids.map((id) => deps.load.vehicle(id)));
  let stepUp = false;
  const decisions = await Promise.all(
    loaded.map(async (v) => {
      if (
        !entity ||
        !v.object ||
        !v.object.relationships.some((r) => r.kind === 'fleet_vehicle' && r.tenant_id === tenant.id)
      )
        return null;
      const own = await deps.load.callerContext(principal, v.object.id, type.name);
      const d = deps.decisions.decide(
        cedarRequest({
          principal: entity,
          action: 'vehicle:command',
          resource: v,
          token,
          caller: own,
          command: type.name,
          extra: {
            operator: ref('Tenant', operator),
            commandScope: type.scope,
            ...(type.stepUp ? { stepUp: true } : {}),
          },
          freshness: { nowSeconds: deps.clock.now().getTime() / 1000, stepUpMaxAge: deps.stepUpMaxAge },
        }),
      );
      if (d.decision !== 'allow' && d.reasons.includes('guardrail.step-up-commands')) stepUp = true;
      return d.decision === 'allow' ? d : null;
    }),
  );
  // The same rule as one vehicle's command: a step-up command without a recent second factor is a challenge.
  if (stepUp) throw stepUpRequired(deps.stepUpMaxAge);
  // All or nothing, and the same refusal for a foreign id, a missing id and a forbidden one.
  if (decisions.some((d) => d === null)) throw refused();
  if (!token.scopes.has('fleet:command')) throw refused();
  await deps.service.batchLimits(
    { userId: principal.userId, token, command: type, params, context: requestContext(req) },
    tenant.id,
    ids,
  );
  return deps.service.createBatch(
    loaded.map((v, i) => ({
      userId,
      token,
      vehicle: v.object!,
      decision: decisions[i]!,
      command: type,
      params,
      batchId,
      context: requestContext(req),
    })),
    tenant.id,
    a.idempotencyKey ?? undefined,
  );
}
