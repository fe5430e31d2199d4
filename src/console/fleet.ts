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

/** The fleet view: each vehicle's current unit with its last known state, and the newest jobs (bounded). */
async function fleetView(db: Kysely<Database>, limit: number) {
  const devices = await currentDevices(db, limit);
  const vehicles = await Promise.all(
    devices.map(async (d) => {
      const s = await readVehicleState(db, d.vehicle_id);
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
  const jobs = (await recentJobs(db, 50)).map((j) => ({
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
}

const entry = (purpose: string): CatalogEntry => ({
  owner: 'console',
  purpose,
  callers: ['operator'],
  action: 'console:read_fleet',
  classification: 'restricted',
  scopes: [],
  safetyImpact: 'none',
  status: 'beta',
});
const Limit = Type.Object({ limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })) }, closed);
const limitOf = (q: { limit?: string }) => Math.min(Math.max(Number(q.limit ?? 100), 1), 200);

/** How often the stream reads the fleet, and how long one stream lasts before the page reconnects (re-authorized). */
export const FLEET_STREAM = { everyMs: 2000, keepAliveMs: 15_000, maxMs: 5 * 60_000 } as const;

/**
 * The console's live fleet view on the admin plane: each vehicle's current unit with its last known state from
 * accepted telemetry, and the fleet's newest command jobs with their transitions. It reads through the owning
 * modules' exported reads (pki, telemetry, commands). `/admin/v1/fleet/events` pushes the same view as server-sent
 * events whenever it changes; a stream ends after `FLEET_STREAM.maxMs`, so a signed-out or demoted operator's page
 * is refused at its next connection.
 */
export function registerFleetRoute(routes: RouteRegistrar, deps: { db: Kysely<Database> }): void {
  routes.get(
    '/admin/v1/fleet',
    {
      auth: { kind: 'operator' },
      catalog: entry(
        "The fleet's vehicles with their last known state, and the newest command jobs with their states.",
      ),
      schema: { querystring: Limit, response: { 200: FleetView } },
    },
    async (req) => fleetView(deps.db, limitOf(req.query)),
  );
  routes.get(
    '/admin/v1/fleet/events',
    {
      auth: { kind: 'operator' },
      catalog: entry('The fleet view as server-sent events: the whole view again whenever it changes.'),
      schema: {
        querystring: Type.Object({ ...Limit.properties, once: Type.Optional(Type.Literal('1')) }, closed),
        response: { 200: { content: { 'text/event-stream': { schema: Type.String() } } } },
      },
    },
    async (req, reply) => {
      const limit = limitOf(req.query);
      reply.hijack();
      // The platform's headers, which a hijacked reply does not get from Fastify.
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'x-request-id': req.id,
        connection: 'keep-alive',
      });
      let last = '';
      let quietSince = Date.now();
      let reading = false;
      const push = async () => {
        if (reading) return;
        reading = true;
        try {
          const view = JSON.stringify(await fleetView(deps.db, limit));
          if (view !== last) reply.raw.write(`event: fleet\ndata: ${view}\n\n`);
          else if (Date.now() - quietSince > FLEET_STREAM.keepAliveMs) reply.raw.write(': still here\n\n');
          else return;
          last = view;
          quietSince = Date.now();
        } catch (err) {
          req.log.warn({ err }, 'fleet stream read failed; the page reconnects');
          end();
        } finally {
          reading = false;
        }
      };
      const timer = setInterval(() => void push(), FLEET_STREAM.everyMs);
      const ends = setTimeout(() => end(), FLEET_STREAM.maxMs);
      const end = () => {
        clearInterval(timer);
        clearTimeout(ends);
        if (!reply.raw.writableEnded) reply.raw.end();
      };
      reply.raw.on('close', end);
      await push();
      // `once=1` answers the current view and ends: for scripts, and for probes that read a whole response.
      if (req.query.once === '1') end();
    },
  );
}
