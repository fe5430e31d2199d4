import { Type } from '@sinclair/typebox';
import { readVehicleState } from '../telemetry/index.js';
import {
  type DecisionPoint,
  type EntityLoader,
  type Principal,
  apiRoute,
  authorizedOf,
  closed,
  decideEach,
  Id,
  load,
  NoQuery,
  NullableString,
  pageCursor,
  pageLimit,
  PageQuery,
  SCAN_MAX,
  type ApiRoutes,
} from '../policy/index.js';
import { type Claims, type RelationshipRow, type VehicleAccess, vehiclesRelatedTo } from '../relationships/index.js';
import { membershipsOf } from '../identity/index.js';
import { currentDeviceOf } from '../pki/index.js';
import type { Database } from '../storage/index.js';
import type { Kysely } from 'kysely';
import type { Clock } from '../platform/index.js';
import { requestContext } from '../http/index.js';
import { Device, registerStatusRoutes } from './status-routes.js';

const Params = Type.Object({ vehicleId: Id }, closed);
const ACCESS = ['owner', 'driver', 'fleet', 'dealer', 'support', 'partner'] as const;
const Vehicle = Type.Object(
  { id: Type.String(), vin: NullableString, access: Type.Array(Type.String({ enum: [...ACCESS] })) },
  closed,
);
type VehicleObject = { id: string; vin: string | null; relationships: RelationshipRow[] };

/** How the caller reaches the vehicle, from the relationships in force: shown, never used to decide. */
function accessOf(p: Principal, rels: RelationshipRow[], tenants: Set<string>): Array<(typeof ACCESS)[number]> {
  const out = new Set<(typeof ACCESS)[number]>();
  for (const r of rels) {
    if (p.kind === 'application') {
      if (r.kind === 'partner_grant' && r.application_id === p.clientId) out.add('partner');
      continue;
    }
    if (r.kind === 'ownership' && r.user_id === p.userId) out.add('owner');
    if (r.kind === 'delegation' && r.user_id === p.userId) out.add('driver');
    if (r.kind === 'support_case' && r.user_id === p.userId) out.add('support');
    if (r.kind === 'fleet_vehicle' && r.tenant_id && tenants.has(r.tenant_id)) out.add('fleet');
    if (r.kind === 'service_case' && r.tenant_id && tenants.has(r.tenant_id)) out.add('dealer');
  }
  return ACCESS.filter((a) => out.has(a));
}

/** Candidates decided per batch: a page stops loading once it is full. */
const DECIDE_BATCH = 100;
/** Where the next page of the vehicle list starts: after a vehicle id (a lower bound, never a grant). */
const VEHICLE_CURSOR = pageCursor('vehicles');
const cursorOf = (id: string) => VEHICLE_CURSOR.after({ key: id, id });

/** The public vehicle API: list, read, status, location, diagnostics, claim and transfer. */
export function registerVehicleRoutes(
  routes: ApiRoutes,
  deps: {
    db: Kysely<Database>;
    clock: Clock;
    decisions: DecisionPoint;
    load: EntityLoader;
    access: VehicleAccess;
    claims: Claims;
  },
): void {
  const { db } = deps;
  const tenantsOf = async (p: Principal) =>
    new Set(p.kind === 'user' ? (await membershipsOf(db, p.userId)).map((m) => m.tenantId) : []);
  const view = (principal: Principal, v: VehicleObject, tenants: Set<string>) =>
    // A partner gets the vehicle's opaque id and its access, not the VIN (which identifies the owner's car).
    ({
      id: v.id,
      vin: principal.kind === 'application' ? null : v.vin,
      access: accessOf(principal, v.relationships, tenants),
    });
  const device = async (vehicleId: string) => {
    const d = await currentDeviceOf(db, vehicleId);
    return d ? { status: d.status, enrolledAt: d.enrolled_at } : null;
  };
  registerStatusRoutes(routes, { db, device });

  routes.get(
    '/v1/vehicles',
    {
      ...apiRoute({
        owner: 'vehicles',
        purpose: 'The vehicles the caller may see, each with how the caller reaches it.',
        action: 'vehicle:list',
        scopes: ['vehicle:read_status'],
        callers: ['user', 'application'],
        authorize: { resource: load.self },
      }),
      schema: {
        querystring: PageQuery,
        response: {
          200: Type.Object(
            {
              vehicles: Type.Array(Vehicle),
              // Where the next page starts, when there is one: pass it back as `cursor`.
              next: Type.Optional(Type.String()),
            },
            closed,
          ),
        },
      },
    },
    async (req) => {
      const { principal } = authorizedOf(req);
      const limit = pageLimit(req);
      const after = VEHICLE_CURSOR.read((req.query as { cursor?: string }).cursor)?.id ?? '';
      const at = deps.clock.now().toISOString();
      const tenants = [...(await tenantsOf(principal))];
      // Candidates come from any relationship naming the caller or their tenants; the policies decide each one.
      const related = await vehiclesRelatedTo(
        db,
        at,
        principal.kind === 'application'
          ? { applicationId: principal.clientId }
          : { userId: principal.userId, tenantIds: tenants },
        { after, limit: SCAN_MAX + 1 },
      );
      // One request decides at most SCAN_MAX candidates, in batches, so a caller who may see few vehicles of a
      // large tenant cannot make one request walk the whole fleet; a short page then still has `next`.
      const ids = related.slice(0, SCAN_MAX);
      const visible: VehicleObject[] = [];
      let next: string | undefined;
      for (let i = 0; i < ids.length && next === undefined; i += DECIDE_BATCH) {
        const loaded = await deps.load.vehicles(ids.slice(i, i + DECIDE_BATCH));
        const allowed = await decideEach(req, deps, 'vehicle:read', loaded);
        for (const [j, l] of loaded.entries()) {
          if (!allowed[j]) continue;
          if (visible.length === limit) {
            next = cursorOf((visible.at(-1) as VehicleObject).id);
            break;
          }
          visible.push(l.object as VehicleObject);
        }
      }
      if (next === undefined && related.length > SCAN_MAX) next = cursorOf(ids.at(-1) as string);
      const mine = new Set(tenants);
      return { vehicles: visible.map((v) => view(principal, v, mine)), ...(next ? { next } : {}) };
    },
  );

  routes.get(
    '/v1/vehicles/:vehicleId',
    {
      ...apiRoute({
        owner: 'vehicles',
        purpose: 'One vehicle the caller may see.',
        action: 'vehicle:read',
        scopes: ['vehicle:read_status'],
        callers: ['user', 'application'],
        authorize: { resource: load.vehicle() },
      }),
      schema: { params: Params, querystring: NoQuery, response: { 200: Vehicle } },
    },
    async (req) => {
      const { principal, object } = authorizedOf<VehicleObject>(req);
      return view(principal, object, await tenantsOf(principal));
    },
  );

  routes.get(
    '/v1/vehicles/:vehicleId/location',
    {
      ...apiRoute({
        owner: 'vehicles',
        purpose: "A vehicle's last known position: its own action and scope, more sensitive than status.",
        action: 'vehicle:read_location',
        scopes: ['vehicle:location'],
        callers: ['user', 'application'],
        classification: 'restricted',
        authorize: { resource: load.vehicle(), visibleWith: 'vehicle:read' },
      }),
      schema: {
        params: Params,
        querystring: NoQuery,
        response: {
          200: Type.Object(
            {
              vehicleId: Type.String(),
              position: Type.Union([
                Type.Object({ lat: Type.Number(), lon: Type.Number(), at: Type.String() }, closed),
                Type.Null(),
              ]),
            },
            closed,
          ),
        },
      },
    },
    async (req) => {
      const id = authorizedOf<VehicleObject>(req).object.id;
      const position = (await readVehicleState(db, id))?.position;
      return {
        vehicleId: id,
        position: position ? { lat: position.value.lat, lon: position.value.lon, at: position.at } : null,
      };
    },
  );

  routes.get(
    '/v1/vehicles/:vehicleId/diagnostics',
    {
      ...apiRoute({
        owner: 'vehicles',
        purpose:
          'Diagnostics of a vehicle: for its owner, its fleet admin, or a dealer with an open, consented service case.',
        action: 'vehicle:read_diagnostics',
        scopes: ['vehicle:diagnostics'],
        authorize: { resource: load.vehicle(), visibleWith: 'vehicle:read' },
      }),
      schema: {
        params: Params,
        querystring: NoQuery,
        response: {
          200: Type.Object(
            {
              vehicleId: Type.String(),
              device: Type.Union([Device, Type.Null()]),
              troubleCodes: Type.Array(Type.String()),
            },
            closed,
          ),
        },
      },
    },
    async (req) => {
      const v = authorizedOf<VehicleObject>(req).object;
      const codes = (await readVehicleState(db, v.id))?.diagnostics?.value ?? [];
      return {
        vehicleId: v.id,
        device: await device(v.id),
        troubleCodes: codes.filter((c) => c.status !== 'cleared').map((c) => c.code),
      };
    },
  );

  routes.post(
    '/v1/vehicle-claims',
    {
      ...apiRoute({
        owner: 'vehicles',
        purpose: 'Claim an unowned vehicle with the single-use code shown inside it.',
        action: 'vehicle:claim',
        scopes: ['vehicle:claim'],
        safetyImpact: 'high',
        authorize: { resource: load.self },
      }),
      schema: {
        querystring: NoQuery,
        body: Type.Object(
          { vin: Type.String({ minLength: 1, maxLength: 32 }), code: Type.String({ minLength: 1, maxLength: 64 }) },
          closed,
        ),
        response: { 201: Type.Object({ vehicleId: Type.String() }, closed) },
      },
    },
    async (req, reply) => {
      const { principal } = authorizedOf(req);
      const body = req.body;
      const claimed = await deps.claims.claim(
        {
          userId: (principal as { userId: string }).userId,
          clientId: principal.clientId,
          context: requestContext(req),
        },
        body.vin,
        body.code,
      );
      return reply.code(201).send({ vehicleId: claimed.vehicleId });
    },
  );

  routes.post(
    '/v1/vehicles/:vehicleId/transfer',
    {
      ...apiRoute({
        owner: 'vehicles',
        purpose:
          "Transfer ownership to another account; ends the old owner's drivers, consents and queued jobs at once.",
        action: 'vehicle:transfer',
        scopes: ['vehicle:transfer'],
        safetyImpact: 'high',
        authorize: { resource: load.vehicle(), visibleWith: 'vehicle:read' },
      }),
      schema: {
        params: Params,
        querystring: NoQuery,
        body: Type.Object({ toEmail: Type.String({ minLength: 3, maxLength: 320 }) }, closed),
        response: {
          200: Type.Object({ vehicleId: Type.String(), ended: Type.Record(Type.String(), Type.Integer()) }, closed),
        },
      },
    },
    async (req) => {
      const { object, principal } = authorizedOf<VehicleObject>(req);
      const result = await deps.access.transfer(
        { userId: (principal as { userId: string }).userId, clientId: principal.clientId },
        object.id,
        req.body.toEmail,
      );
      return { vehicleId: object.id, ended: result.ended };
    },
  );
}
