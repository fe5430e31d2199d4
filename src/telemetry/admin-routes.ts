import { Type } from '@sinclair/typebox';
import { untrusted } from '../audit/index.js';
import { operatorOf } from '../admin/index.js';
import type { RouteRegistrar } from '../http/index.js';
import type { CatalogEntry } from '../http/index.js';
import { requestContext } from '../http/index.js';
import { CarapaceError } from '../platform/index.js';
import type { Telemetry } from './service.js';

const closed = { additionalProperties: false } as const;
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Timed = <
  T extends
    | ReturnType<typeof Type.Object>
    | ReturnType<typeof Type.Number>
    | ReturnType<typeof Type.String>
    | ReturnType<typeof Type.Array>,
>(
  value: T,
) => Type.Union([Type.Object({ value, at: Type.String() }, closed), Type.Null()]);

const QuarantineView = Type.Object(
  {
    id: Type.String(),
    deviceId: Type.String(),
    vehicleId: Type.String(),
    quarantinedAt: Type.String(),
    reason: Type.String(),
    strikes: Type.Integer(),
    releasedAt: Nullable(Type.String()),
    releasedBy: Nullable(Type.String()),
    releaseReason: Nullable(Type.String()),
  },
  closed,
);

const VehicleStateView = Type.Object(
  {
    vehicleId: Type.String(),
    speedKmh: Timed(Type.Number()),
    gear: Timed(Type.String()),
    locks: Timed(Type.Object({ locked: Type.Boolean(), open: Type.Array(Type.String()) }, closed)),
    position: Timed(Type.Object({ lat: Type.Number(), lon: Type.Number() }, closed)),
    charging: Timed(
      Type.Object({ charging: Type.Boolean(), plugged: Type.Boolean(), socPercent: Type.Number() }, closed),
    ),
    odometerKm: Timed(Type.Number()),
    diagnostics: Timed(Type.Array(Type.Object({ code: Type.String(), status: Type.String() }, closed))),
    updatedAt: Type.String(),
  },
  closed,
);

const entry = (e: Pick<CatalogEntry, 'purpose' | 'action' | 'safetyImpact'>): CatalogEntry => ({
  owner: 'telemetry',
  callers: ['operator'],
  classification: 'restricted',
  scopes: [],
  status: 'beta',
  ...e,
});

/** The admin plane's telemetry routes: quarantines (list, release) and a vehicle's last known state. */
export function registerTelemetryAdminRoutes(routes: RouteRegistrar, deps: { telemetry: Telemetry }): void {
  const { telemetry } = deps;

  routes.get(
    '/admin/v1/telemetry/quarantines',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'List devices quarantined by telemetry (repeated bad signatures or identity mismatches).',
        action: 'telemetry:list_quarantines',
        safetyImpact: 'none',
      }),
      schema: {
        querystring: Type.Object(
          {
            open: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
            deviceId: Type.Optional(Type.String({ format: 'uuid' })),
          },
          closed,
        ),
        response: { 200: Type.Object({ quarantines: Type.Array(QuarantineView) }, closed) },
      },
    },
    async (req) => {
      operatorOf(req);
      return {
        quarantines: await telemetry.quarantine.list({
          open: req.query.open !== 'false',
          deviceId: req.query.deviceId,
        }),
      };
    },
  );

  routes.post(
    '/admin/v1/telemetry/quarantines/:deviceId/release',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'Release a quarantined device: its telemetry and commands are accepted again.',
        action: 'telemetry:release_quarantine',
        safetyImpact: 'high',
      }),
      schema: {
        params: Type.Object({ deviceId: Type.String({ format: 'uuid' }) }, closed),
        body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500 }) }, closed),
        response: { 200: Type.Object({ deviceId: Type.String(), status: Type.String() }, closed) },
      },
    },
    async (req) => {
      const operator = operatorOf(req);
      return telemetry.quarantine.release({
        deviceId: req.params.deviceId,
        actor: { type: 'operator', id: operator.name },
        reason: untrusted(req.body.reason, 500),
        context: requestContext(req),
      });
    },
  );

  routes.get(
    '/admin/v1/vehicles/:vehicleId/state',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: "Read a vehicle's last known state from accepted telemetry, each field with its message time.",
        action: 'telemetry:read_vehicle_state',
        safetyImpact: 'none',
      }),
      schema: {
        params: Type.Object({ vehicleId: Type.String({ format: 'uuid' }) }, closed),
        response: { 200: VehicleStateView },
      },
    },
    async (req) => {
      operatorOf(req);
      const state = await telemetry.vehicleState(req.params.vehicleId);
      if (!state) throw new CarapaceError('ERR_NOT_FOUND', 'no telemetry state for that vehicle');
      return state;
    },
  );
}
