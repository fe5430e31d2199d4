import { type TSchema, Type } from '@sinclair/typebox';
import type { Kysely } from 'kysely';
import { readVehicleState, type VehicleState } from '../telemetry/index.js';
import { type ApiRoutes, apiRoute, authorizedOf, closed, Id, load, NoQuery, NullableString } from '../policy/index.js';
import type { Database } from '../storage/index.js';

const Params = Type.Object({ vehicleId: Id }, closed);
/** The vehicle's telematics unit as the status routes show it. */
export const Device = Type.Object({ status: Type.String(), enrolledAt: NullableString }, closed);
const timed = <T extends TSchema>(value: T) =>
  Type.Union([Type.Object({ value, at: Type.String() }, closed), Type.Null()]);
/** Status without position or diagnostics: those are their own actions and scopes. */
const readings = {
  speedKmh: timed(Type.Number()),
  gear: timed(Type.String()),
  locks: timed(Type.Object({ locked: Type.Boolean(), open: Type.Array(Type.String()) }, closed)),
  charging: timed(
    Type.Object({ charging: Type.Boolean(), plugged: Type.Boolean(), socPercent: Type.Number() }, closed),
  ),
  odometerKm: timed(Type.Number()),
};
const Reported = Type.Union([Type.Object({ ...readings, updatedAt: Type.String() }, closed), Type.Null()]);

/**
 * How each field of version 2 of the status reads in version 1 (a renamed prefix): the contract test checks that
 * v2 exposes no field v1 did not, through this map.
 */
export const STATUS_V2_RENAMES: Readonly<Record<string, string>> = {
  'vehicle.id': 'vehicleId',
  unit: 'device',
  state: 'reported',
};

const V2_ROUTE = 'GET /v2/vehicles/:vehicleId/status';

/** The status fields both versions show, from the vehicle state telemetry keeps. */
function reportedOf(state: VehicleState | null) {
  if (!state) return null;
  const { speedKmh, gear, locks, charging, odometerKm, updatedAt } = state;
  return { speedKmh, gear, locks, charging, odometerKm, updatedAt };
}

const statusRoute = (status: 'stable' | 'deprecated') =>
  apiRoute({
    owner: 'vehicles',
    purpose: "A vehicle's status: its telematics unit and last reported state.",
    action: 'vehicle:read_status',
    scopes: ['vehicle:read_status'],
    callers: ['user', 'application'],
    status,
    authorize: { resource: load.vehicle(), visibleWith: 'vehicle:read' },
  });

/** Both versions of a vehicle's status: v1 (deprecated, flat) and v2 (the vehicle, its unit and its state). */
export function registerStatusRoutes(
  routes: ApiRoutes,
  deps: {
    db: Kysely<Database>;
    device: (vehicleId: string) => Promise<{ status: string; enrolledAt: string | null } | null>;
  },
): void {
  const v1 = statusRoute('deprecated');
  routes.get(
    '/v1/vehicles/:vehicleId/status',
    {
      ...v1,
      catalog: {
        ...v1.catalog,
        deprecation: {
          since: '2026-12-01T00:00:00Z',
          sunset: '2027-06-30T00:00:00Z',
          migration: '/api-migrations/vehicle-status-v2',
          successor: V2_ROUTE,
        },
        inventory: { objects: ['Vehicle', 'Device'], privacyImpact: 'low', financialImpact: 'none' },
      },
      schema: {
        params: Params,
        querystring: NoQuery,
        response: {
          200: Type.Object(
            { vehicleId: Type.String(), device: Type.Union([Device, Type.Null()]), reported: Reported },
            closed,
          ),
        },
      },
    },
    async (req) => {
      const v = authorizedOf<{ id: string }>(req).object;
      const reported = reportedOf(await readVehicleState(deps.db, v.id));
      return { vehicleId: v.id, device: await deps.device(v.id), reported };
    },
  );

  const v2 = statusRoute('stable');
  routes.get(
    '/v2/vehicles/:vehicleId/status',
    {
      ...v2,
      catalog: {
        ...v2.catalog,
        inventory: { objects: ['Vehicle', 'Device'], privacyImpact: 'low', financialImpact: 'none' },
      },
      schema: {
        params: Params,
        querystring: NoQuery,
        response: {
          200: Type.Object(
            {
              vehicle: Type.Object({ id: Type.String() }, closed),
              unit: Type.Union([Device, Type.Null()]),
              state: Reported,
            },
            closed,
          ),
        },
      },
    },
    async (req) => {
      const v = authorizedOf<{ id: string }>(req).object;
      const state = reportedOf(await readVehicleState(deps.db, v.id));
      return { vehicle: { id: v.id }, unit: await deps.device(v.id), state };
    },
  );
}
