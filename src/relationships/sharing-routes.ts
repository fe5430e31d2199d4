import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Clock } from '../platform/index.js';
import { CarapaceError } from '../platform/index.js';
import { ACR } from '../tokens/index.js';
import { findUser, findUsers } from '../identity/index.js';
import {
  type Principal,
  apiRoute,
  authorizedOf,
  closed,
  Id,
  load,
  NoQuery,
  NullableString,
  type ApiRoutes,
} from '../policy/index.js';
import type { Database } from '../storage/index.js';
import { type Actor, PARTNER_GRANTABLE_SCOPES, type VehicleAccess } from './access.js';
import type { DelegationInviteRow, RelationshipRow } from './tables.js';

const VehicleParams = Type.Object({ vehicleId: Id }, closed);
const Reason = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500 }) }, closed);
const Ended = Type.Object({ id: Type.String(), endedAt: Type.String() }, closed);
const Delegation = Type.Object(
  {
    id: Type.String(),
    vehicleId: Type.String(),
    driver: Type.Object({ id: Type.String(), name: Type.String(), email: Type.String() }, closed),
    commands: Type.Array(Type.String()),
    validFrom: Type.String(),
    validUntil: NullableString,
  },
  closed,
);
const Invite = Type.Object(
  {
    id: Type.String(),
    vehicleId: Type.String(),
    inviteeEmail: Type.String(),
    commands: Type.Array(Type.String()),
    validFrom: Type.String(),
    validUntil: Type.String(),
    expiresAt: Type.String(),
    status: Type.String(),
  },
  closed,
);
const Grant = Type.Object(
  {
    id: Type.String(),
    vehicleId: Type.String(),
    clientId: Type.String(),
    scopes: Type.Array(Type.String()),
    validUntil: NullableString,
  },
  closed,
);

const actorOf = (req: FastifyRequest): Actor => {
  const p = authorizedOf(req).principal as Extract<Principal, { kind: 'user' }>;
  return { userId: p.userId, clientId: p.clientId };
};
const attrs = (r: RelationshipRow) => JSON.parse(r.attributes) as { commands?: string[]; scopes?: string[] };
const inviteView = (i: DelegationInviteRow) => ({
  id: i.id,
  vehicleId: i.vehicle_id,
  inviteeEmail: i.invitee_email,
  commands: JSON.parse(i.commands) as string[],
  validFrom: i.valid_from,
  validUntil: i.valid_until,
  expiresAt: i.expires_at,
  status: i.status,
});
const grantView = (r: RelationshipRow) => ({
  id: r.id,
  vehicleId: r.vehicle_id as string,
  clientId: r.application_id as string,
  scopes: attrs(r).scopes ?? [],
  validUntil: r.valid_until,
});

/** `stepUp` in the Cedar context when a delegation request lists a command that needs a recent second factor. */
function delegatesStepUp(req: FastifyRequest, stepUp: readonly string[]): { stepUp?: true } {
  const commands = (req.body as { commands?: unknown } | null | undefined)?.commands;
  return Array.isArray(commands) && commands.some((c) => stepUp.includes(c as string)) ? { stepUp: true } : {};
}

/** The RFC 9470 challenge for a delegation of a step-up command without a recent second factor. */
function stepUpRequired(maxAgeSeconds: number): CarapaceError {
  return new CarapaceError(
    'ERR_STEP_UP_REQUIRED',
    'delegating this command needs a recent sign-in with a second factor',
    {
      acrValues: ACR.mfa,
      maxAge: maxAgeSeconds,
    },
  );
}

/** Owners sharing a vehicle: driver delegations (invite, accept, list, revoke) and partner consents. */
export function registerSharingRoutes(
  routes: ApiRoutes,
  deps: { db: Kysely<Database>; clock: Clock; access: VehicleAccess; stepUpMaxAge: number },
): void {
  const { db } = deps;
  const now = () => deps.clock.now().toISOString();
  const delegationsOf = async (vehicleId: string) => {
    const rows = await db
      .selectFrom('relationships')
      .selectAll()
      .where('vehicle_id', '=', vehicleId)
      .where('kind', '=', 'delegation')
      .where('user_id', 'is not', null)
      .where('ended_at', 'is', null)
      .where((eb) => eb.or([eb('valid_until', 'is', null), eb('valid_until', '>', now())]))
      .orderBy('granted_at')
      .execute();
    const drivers = new Map(
      (
        await findUsers(
          db,
          rows.map((r) => r.user_id as string),
        )
      ).map((u) => [u.id, u]),
    );
    return rows
      .flatMap((r) => {
        const driver = drivers.get(r.user_id as string);
        return driver ? [{ row: r, driver }] : [];
      })
      .map(({ row: r, driver }) => ({
        id: r.id,
        vehicleId,
        driver: { id: driver.id, name: driver.displayName, email: driver.email },
        commands: attrs(r).commands ?? [],
        validFrom: r.valid_from,
        validUntil: r.valid_until,
      }));
  };

  routes.post(
    '/v1/vehicles/:vehicleId/delegations',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: 'Invite a driver: a fixed window and an explicit list of commands; returns a single-use code once.',
        action: 'delegation:create',
        scopes: ['vehicle:manage_drivers'],
        safetyImpact: 'high',
        authorize: {
          resource: load.vehicle(),
          visibleWith: 'vehicle:read',
          // Delegating a step-up command is judged like sending one (guardrail.step-up-commands).
          extraContext: (req) => Promise.resolve(delegatesStepUp(req, deps.access.stepUpCommands)),
          denialErrors: { 'guardrail.step-up-commands': () => stepUpRequired(deps.stepUpMaxAge) },
        },
      }),
      schema: {
        params: VehicleParams,
        querystring: NoQuery,
        body: Type.Object(
          {
            email: Type.String({ minLength: 3, maxLength: 320 }),
            commands: Type.Array(Type.String({ enum: [...deps.access.delegableCommands] }), {
              minItems: 1,
              maxItems: deps.access.delegableCommands.length,
            }),
            validFrom: Type.Optional(Type.String({ format: 'date-time' })),
            validUntil: Type.String({ format: 'date-time' }),
          },
          closed,
        ),
        response: { 201: Type.Object({ invite: Invite, code: Type.String() }, closed) },
      },
    },
    async (req, reply) => {
      const vehicle = authorizedOf<{ id: string }>(req).object;
      const created = await deps.access.invite(actorOf(req), vehicle.id, req.body);
      return reply.code(201).send({ invite: inviteView(created.invite), code: created.code });
    },
  );

  routes.get(
    '/v1/vehicles/:vehicleId/delegations',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: "A vehicle's drivers and pending invites, for its owner.",
        action: 'delegation:list',
        scopes: ['vehicle:manage_drivers'],
        authorize: { resource: load.vehicle(), visibleWith: 'vehicle:read' },
      }),
      schema: {
        params: VehicleParams,
        querystring: NoQuery,
        response: { 200: Type.Object({ delegations: Type.Array(Delegation), invites: Type.Array(Invite) }, closed) },
      },
    },
    async (req) => {
      const vehicle = authorizedOf<{ id: string }>(req).object;
      const invites = await db
        .selectFrom('delegation_invites')
        .selectAll()
        .where('vehicle_id', '=', vehicle.id)
        .where('status', '=', 'pending')
        .where('expires_at', '>', now())
        .orderBy('created_at')
        .execute();
      return { delegations: await delegationsOf(vehicle.id), invites: invites.map(inviteView) };
    },
  );

  routes.post(
    '/v1/delegations/:delegationId/revoke',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: "The owner ends a driver's delegation at once.",
        action: 'delegation:revoke',
        scopes: ['vehicle:manage_drivers'],
        safetyImpact: 'high',
        authorize: { resource: load.delegation() },
      }),
      schema: {
        params: Type.Object({ delegationId: Id }, closed),
        querystring: NoQuery,
        body: Reason,
        response: { 200: Ended },
      },
    },
    async (req) => {
      const rel = authorizedOf<RelationshipRow>(req).object;
      await deps.access.endRelationship(actorOf(req), rel, req.body.reason);
      return { id: rel.id, endedAt: now() };
    },
  );

  routes.get(
    '/v1/delegation-invites',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: 'Pending delegation invites addressed to the caller.',
        action: 'delegation:list_invites',
        scopes: [],
        authorize: { resource: load.self },
      }),
      schema: { querystring: NoQuery, response: { 200: Type.Object({ invites: Type.Array(Invite) }, closed) } },
    },
    async (req) => {
      const me = await findUser(db, actorOf(req).userId);
      if (!me) throw new CarapaceError('ERR_NOT_FOUND', 'no such account');
      const rows = await db
        .selectFrom('delegation_invites')
        .selectAll()
        .where('invitee_email', '=', me.email)
        .where('status', '=', 'pending')
        .where('expires_at', '>', now())
        .orderBy('created_at')
        .execute();
      return { invites: rows.map(inviteView) };
    },
  );

  routes.post(
    '/v1/delegation-invites/:inviteId/accept',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: "The invited driver accepts with the code; the window and commands are the owner's, not the driver's.",
        action: 'delegation:accept',
        scopes: [],
        safetyImpact: 'high',
        authorize: { resource: load.invite() },
      }),
      schema: {
        params: Type.Object({ inviteId: Id }, closed),
        querystring: NoQuery,
        body: Type.Object({ code: Type.String({ minLength: 1, maxLength: 128 }) }, closed),
        response: { 201: Delegation },
      },
    },
    async (req, reply) => {
      const invite = authorizedOf<DelegationInviteRow>(req).object;
      const rel = await deps.access.accept(actorOf(req), invite, req.body.code);
      const me = await findUser(db, actorOf(req).userId);
      if (!me) throw new CarapaceError('ERR_NOT_FOUND', 'no such account');
      return reply.code(201).send({
        id: rel.id,
        vehicleId: invite.vehicle_id,
        driver: { id: me.id, name: me.displayName, email: me.email },
        commands: attrs(rel).commands ?? [],
        validFrom: rel.valid_from,
        validUntil: rel.valid_until,
      });
    },
  );

  routes.post(
    '/v1/delegation-invites/:inviteId/revoke',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: 'The owner withdraws a delegation invite that has not been accepted.',
        action: 'delegation:revoke_invite',
        scopes: ['vehicle:manage_drivers'],
        safetyImpact: 'low',
        authorize: { resource: load.invite() },
      }),
      schema: {
        params: Type.Object({ inviteId: Id }, closed),
        querystring: NoQuery,
        body: Reason,
        response: { 200: Ended },
      },
    },
    async (req) => {
      const invite = authorizedOf<DelegationInviteRow>(req).object;
      await deps.access.withdrawInvite(actorOf(req), invite, req.body.reason);
      return { id: invite.id, endedAt: now() };
    },
  );

  routes.post(
    '/v1/vehicles/:vehicleId/partner-grants',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: 'The owner consents to a partner reading named data about this vehicle until a date.',
        action: 'partner_grant:create',
        scopes: ['vehicle:consent'],
        safetyImpact: 'low',
        authorize: { resource: load.vehicle(), visibleWith: 'vehicle:read' },
      }),
      schema: {
        params: VehicleParams,
        querystring: NoQuery,
        body: Type.Object(
          {
            clientId: Type.String({ minLength: 1, maxLength: 200 }),
            scopes: Type.Array(Type.String({ enum: [...PARTNER_GRANTABLE_SCOPES] }), { minItems: 1, maxItems: 3 }),
            until: Type.String({ format: 'date-time' }),
          },
          closed,
        ),
        response: { 201: Grant },
      },
    },
    async (req, reply) => {
      const vehicle = authorizedOf<{ id: string }>(req).object;
      return reply.code(201).send(grantView(await deps.access.grantPartner(actorOf(req), vehicle.id, req.body)));
    },
  );

  routes.get(
    '/v1/vehicles/:vehicleId/partner-grants',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: 'The partners the owner has consented to for this vehicle.',
        action: 'partner_grant:list',
        scopes: ['vehicle:consent'],
        authorize: { resource: load.vehicle(), visibleWith: 'vehicle:read' },
      }),
      schema: {
        params: VehicleParams,
        querystring: NoQuery,
        response: { 200: Type.Object({ grants: Type.Array(Grant) }, closed) },
      },
    },
    async (req) => {
      const vehicle = authorizedOf<{ id: string }>(req).object;
      const rows = await db
        .selectFrom('relationships')
        .selectAll()
        .where('vehicle_id', '=', vehicle.id)
        .where('kind', '=', 'partner_grant')
        .where('ended_at', 'is', null)
        .where((eb) => eb.or([eb('valid_until', 'is', null), eb('valid_until', '>', now())]))
        .orderBy('granted_at')
        .execute();
      return { grants: rows.map(grantView) };
    },
  );

  routes.post(
    '/v1/partner-grants/:grantId/revoke',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: "The owner withdraws a partner's consent at once.",
        action: 'partner_grant:revoke',
        scopes: ['vehicle:consent'],
        safetyImpact: 'low',
        authorize: { resource: load.partnerGrant() },
      }),
      schema: {
        params: Type.Object({ grantId: Id }, closed),
        querystring: NoQuery,
        body: Reason,
        response: { 200: Ended },
      },
    },
    async (req) => {
      const rel = authorizedOf<RelationshipRow>(req).object;
      await deps.access.endRelationship(actorOf(req), rel, req.body.reason);
      return { id: rel.id, endedAt: now() };
    },
  );
}
