import { Type } from '@sinclair/typebox';
import type { Kysely } from 'kysely';
import { recentJobs } from '../commands/index.js';
import type { CatalogEntry, RouteRegistrar } from '../http/index.js';
import { currentDevices } from '../pki/index.js';
import type { Database } from '../storage/index.js';
import { readVehicleState } from '../telemetry/index.js';

const closed = { additionalProperties: false } as const;
const S = Type.String();
const NS = Type.Union([Type.String(), Type.Null()]);
const NN = Type.Union([Type.Number(), Type.Null()]);

const FleetView = Type.Object(
  {
    vehicles: Type.Array(
      Type.Object(
        {
          vehicleId: S,
          deviceId: S,
          tcuSerial: S,
          deviceStatus: S,
          lat: NN,
          lon: NN,
          speedKmh: NN,
          gear: NS,
          locked: Type.Union([Type.Boolean(), Type.Null()]),
          socPercent: NN,
          stateAt: NS,
        },
        closed,
      ),
    ),
    jobs: Type.Array(
      Type.Object(
        {
          id: S,
          vehicleId: S,
          command: S,
          state: S,
          reason: NS,
          createdAt: S,
          updatedAt: S,
          transitions: Type.Array(Type.Object({ to: S, at: S }, closed)),
        },
        closed,
      ),
    ),
  },
  closed,
);

/**
 * The console's live fleet view on the admin plane: each vehicle's current unit with its last known state from
 * accepted telemetry, and the fleet's newest command jobs with their transitions. It reads through the owning
 * modules' exported reads (pki, telemetry, commands); the console polls it.
 */
export function registerFleetRoute(routes: RouteRegistrar, deps: { db: Kysely<Database> }): void {
  const entry: CatalogEntry = {
    owner: 'console',
    purpose: "The fleet's vehicles with their last known state, and the newest command jobs with their states.",
    callers: ['operator'],
    action: 'console:read_fleet',
    classification: 'restricted',
    scopes: [],
    safetyImpact: 'none',
    status: 'beta',
  };
  routes.get(
    '/admin/v1/fleet',
    {
      auth: { kind: 'operator' },
      catalog: entry,
      schema: {
        querystring: Type.Object({ limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })) }, closed),
        response: { 200: FleetView },
      },
    },
    async (req) => {
      const limit = Math.min(Math.max(Number(req.query.limit ?? 100), 1), 200);
      const devices = await currentDevices(deps.db, limit);
      const vehicles = await Promise.all(
        devices.map(async (d) => {
          const s = await readVehicleState(deps.db, d.vehicle_id);
          return {
            vehicleId: d.vehicle_id,
            deviceId: d.id,
            tcuSerial: d.factory_serial,
            deviceStatus: d.status,
            lat: s?.position?.value.lat ?? null,
            lon: s?.position?.value.lon ?? null,
            speedKmh: s?.speedKmh?.value ?? null,
            gear: s?.gear?.value ?? null,
            locked: s?.locks?.value.locked ?? null,
            socPercent: s?.charging?.value.socPercent ?? null,
            stateAt: s?.updatedAt ?? null,
          };
        }),
      );
      const jobs = (await recentJobs(deps.db, 50)).map((j) => ({
        id: j.id,
        vehicleId: j.vehicle_id,
        command: j.command,
        state: j.state,
        reason: j.reason,
        createdAt: j.created_at,
        updatedAt: j.updated_at,
        transitions: j.transitions.map((t) => ({ to: t.to_state, at: t.at })),
      }));
      return { vehicles, jobs };
    },
  );
}
