import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Clock } from '../platform/index.js';
import { tenantsWhereRole } from '../identity/index.js';
import {
  type DecisionPoint,
  type EntityLoader,
  type LoadedResource,
  type Principal,
  apiRoute,
  authorizedOf,
  closed,
  decidedPage,
  groupResource,
  Id,
  load,
  NoQuery,
  pageCursor,
  PageQuery,
  param,
  SCAN_MAX,
  type ApiRoutes,
} from '../policy/index.js';
import type { Database } from '../storage/index.js';
import type { Actor } from './access.js';
import type { FleetGroups } from './fleet.js';
import type { FleetGroupRow } from './tables.js';

/** Where the next page of a fleet's groups starts. */
const GROUP_CURSOR = pageCursor('groups');
const Group = Type.Object({ id: Type.String(), name: Type.String() }, closed);
const GroupDetail = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    vehicleIds: Type.Array(Type.String()),
    memberIds: Type.Array(Type.String()),
  },
  closed,
);
const Assignment = Type.Object(
  { groupId: Type.String(), vehicleId: Type.Optional(Type.String()), userId: Type.Optional(Type.String()) },
  closed,
);

type Pair = { group: FleetGroupRow; otherId: string };

const actorOf = (req: FastifyRequest): Actor => {
  const p = authorizedOf(req).principal as Extract<Principal, { kind: 'user' }>;
  return { userId: p.userId, clientId: p.clientId };
};

/**
 * Loads a group and a second object named in the path, which must belong to the group's fleet: a vehicle
 * of the fleet, or an operator of the fleet. Otherwise the pair is missing (404), whatever the caller's role.
 */
function groupWith(kind: 'vehicle' | 'member', db: Kysely<Database>, clock: Clock) {
  return async (req: FastifyRequest, l: EntityLoader): Promise<LoadedResource<Pair>> => {
    const group = await l.group(param(req, 'groupId'));
    const otherId = param(req, kind === 'vehicle' ? 'vehicleId' : 'userId');
    const tenant = group.object?.tenant_id ?? '';
    const at = clock.now().toISOString();
    const belongs =
      kind === 'vehicle'
        ? await db
            .selectFrom('relationships')
            .select(['id'])
            .where('kind', '=', 'fleet_vehicle')
            .where('vehicle_id', '=', otherId)
            .where('tenant_id', '=', tenant)
            .where('ended_at', 'is', null)
            .where('valid_from', '<=', at)
            .executeTakeFirst()
        : (await tenantsWhereRole(db, otherId, 'fleet_operator')).includes(tenant);
    return { ...group, object: group.object && belongs ? { group: group.object, otherId } : null };
  };
}

/** Fleet groups: list and create per fleet, read one, and assign vehicles and operators to it. */
export function registerFleetRoutes(
  routes: ApiRoutes,
  deps: { db: Kysely<Database>; clock: Clock; decisions: DecisionPoint; load: EntityLoader; fleet: FleetGroups },
): void {
  const { db } = deps;
  const TenantParams = Type.Object({ tenantId: Id }, closed);

  routes.get(
    '/v1/fleets/:tenantId/groups',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: "A fleet's groups: all of them for its admins, their own for operators.",
        action: 'fleet:list_groups',
        scopes: ['fleet:read'],
        authorize: { resource: load.tenant(), visibleWith: 'tenant:read' },
      }),
      schema: {
        params: TenantParams,
        querystring: PageQuery,
        response: { 200: Type.Object({ groups: Type.Array(Group), next: Type.Optional(Type.String()) }, closed) },
      },
    },
    async (req) => {
      const tenant = authorizedOf<{ id: string }>(req).object;
      const after = GROUP_CURSOR.read((req.query as { cursor?: string }).cursor);
      // Candidates by name; which the caller reads is the policies' decision (fleet:read_group), in one batch.
      const candidates = await db
        .selectFrom('fleet_groups')
        .selectAll()
        .where('tenant_id', '=', tenant.id)
        .$if(after !== null, (q) =>
          q.where((eb) =>
            eb.or([eb('name', '>', after!.key), eb.and([eb('name', '=', after!.key), eb('id', '>', after!.id)])]),
          ),
        )
        .orderBy('name')
        .orderBy('id')
        .limit(SCAN_MAX + 1)
        .execute();
      const { page, next } = await decidedPage({
        req,
        deps,
        action: 'fleet:read_group',
        candidates,
        resourceOf: groupResource,
        positionOf: (g) => ({ key: g.name, id: g.id }),
        cursor: GROUP_CURSOR,
      });
      return { groups: page.map((g) => ({ id: g.id, name: g.name })), ...(next ? { next } : {}) };
    },
  );

  routes.post(
    '/v1/fleets/:tenantId/groups',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: 'A fleet admin creates a group.',
        action: 'fleet:create_group',
        scopes: ['fleet:admin'],
        safetyImpact: 'low',
        authorize: { resource: load.tenant(), visibleWith: 'tenant:read' },
      }),
      schema: {
        params: TenantParams,
        querystring: NoQuery,
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 120 }) }, closed),
        response: { 201: Group },
      },
    },
    async (req, reply) => {
      const tenant = authorizedOf<{ id: string }>(req).object;
      const g = await deps.fleet.create(actorOf(req), tenant.id, req.body.name);
      return reply.code(201).send({ id: g.id, name: g.name });
    },
  );

  routes.get(
    '/v1/fleet-groups/:groupId',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: "A group's vehicles and operators.",
        action: 'fleet:read_group',
        scopes: ['fleet:read'],
        authorize: { resource: load.group() },
      }),
      schema: { params: Type.Object({ groupId: Id }, closed), querystring: NoQuery, response: { 200: GroupDetail } },
    },
    async (req) => {
      const g = authorizedOf<FleetGroupRow>(req).object;
      return { id: g.id, name: g.name, ...(await deps.fleet.contents(g)) };
    },
  );

  const VehiclePair = Type.Object({ groupId: Id, vehicleId: Id }, closed);
  const MemberPair = Type.Object({ groupId: Id, userId: Id }, closed);
  const spec = (kind: 'vehicle' | 'member') => ({
    resource: groupWith(kind, db, deps.clock),
    visibleWith: 'fleet:read_group',
  });

  routes.put(
    '/v1/fleet-groups/:groupId/vehicles/:vehicleId',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: "Put one of the fleet's vehicles in a group.",
        action: 'fleet:assign_vehicle',
        scopes: ['fleet:admin'],
        safetyImpact: 'low',
        authorize: spec('vehicle'),
      }),
      schema: { params: VehiclePair, querystring: NoQuery, response: { 200: Assignment } },
    },
    async (req) => {
      const { group, otherId } = authorizedOf<Pair>(req).object;
      await deps.fleet.addVehicle(actorOf(req), group, otherId);
      return { groupId: group.id, vehicleId: otherId };
    },
  );

  routes.delete(
    '/v1/fleet-groups/:groupId/vehicles/:vehicleId',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: 'Take a vehicle out of a group (it stays in the fleet).',
        action: 'fleet:unassign_vehicle',
        scopes: ['fleet:admin'],
        safetyImpact: 'low',
        authorize: spec('vehicle'),
      }),
      schema: { params: VehiclePair, querystring: NoQuery, response: { 200: Assignment } },
    },
    async (req) => {
      const { group, otherId } = authorizedOf<Pair>(req).object;
      await deps.fleet.removeVehicle(actorOf(req), group, otherId);
      return { groupId: group.id, vehicleId: otherId };
    },
  );

  routes.put(
    '/v1/fleet-groups/:groupId/members/:userId',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: "Assign one of the fleet's operators to a group.",
        action: 'fleet:assign_member',
        scopes: ['fleet:admin'],
        safetyImpact: 'low',
        authorize: spec('member'),
      }),
      schema: { params: MemberPair, querystring: NoQuery, response: { 200: Assignment } },
    },
    async (req) => {
      const { group, otherId } = authorizedOf<Pair>(req).object;
      await deps.fleet.addMember(actorOf(req), group, otherId);
      return { groupId: group.id, userId: otherId };
    },
  );

  routes.delete(
    '/v1/fleet-groups/:groupId/members/:userId',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: 'Unassign an operator from a group.',
        action: 'fleet:unassign_member',
        scopes: ['fleet:admin'],
        safetyImpact: 'low',
        authorize: spec('member'),
      }),
      schema: { params: MemberPair, querystring: NoQuery, response: { 200: Assignment } },
    },
    async (req) => {
      const { group, otherId } = authorizedOf<Pair>(req).object;
      await deps.fleet.removeMember(actorOf(req), group, otherId);
      return { groupId: group.id, userId: otherId };
    },
  );
}
