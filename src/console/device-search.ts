import { Type } from '@sinclair/typebox';
import type { AuditLog, StoredAuditEvent } from '../audit/index.js';
import type { CatalogEntry, RouteRegistrar } from '../http/index.js';
import {
  certificatesOf,
  devicesBySerial,
  devicesOfVehicle,
  type DeviceRow,
  findCertificate,
  findDevice,
  getDevice,
  type Pki,
} from '../pki/index.js';
import { findVehicleByVin, findVehicles } from '../vehicles/index.js';

const closed = { additionalProperties: false } as const;
const S = Type.String();
const NS = Type.Union([Type.String(), Type.Null()]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const VIN = /^[A-HJ-NPR-Z0-9]{17}$/;

const entry = (purpose: string): CatalogEntry => ({
  owner: 'console',
  purpose,
  callers: ['operator'],
  action: 'pki:read_device',
  classification: 'restricted',
  scopes: [],
  safetyImpact: 'none',
  status: 'beta',
});

const DeviceSummary = Type.Object(
  { id: S, vehicleId: S, vin: NS, tcuSerial: S, status: S, replaces: NS, replacedBy: NS, createdAt: S },
  closed,
);

const Change = Type.Object(
  { at: S, type: S, actor: NS, from: NS, to: NS, reason: NS, decision: S, requestId: NS },
  closed,
);

const CertificateSummary = Type.Object(
  { serial: S, profile: S, status: S, issuedAt: S, notAfter: S, revokedAt: NS, revocationReason: NS },
  closed,
);

/** The units a search term names: a device id, a TCU serial, a certificate serial or a VIN (all its units). */
async function devicesFor(pki: Pki, q: string): Promise<DeviceRow[]> {
  const db = pki.ctx.db;
  const found = new Map<string, DeviceRow>();
  const add = (rows: Array<DeviceRow | undefined>) => rows.forEach((d) => d && found.set(d.id, d));
  if (UUID.test(q)) add([await findDevice(db, q.toLowerCase())]);
  add(await devicesBySerial(db, q));
  const cert = await findCertificate(db, q);
  if (cert?.device_id) add([await findDevice(db, cert.device_id)]);
  if (VIN.test(q.toUpperCase())) {
    const vehicle = await findVehicleByVin(db, q.toUpperCase());
    if (vehicle) add(await devicesOfVehicle(db, vehicle.id));
  }
  return [...found.values()];
}

/** A status change as the history lists it, from the PKI's own audit events about the unit. */
const changeOf = (e: StoredAuditEvent) => ({
  at: e.occurredAt,
  type: e.type,
  actor: e.actor.id === null ? e.actor.type : `${e.actor.type}:${e.actor.id}`,
  from: typeof e.details.from === 'string' ? e.details.from : null,
  to: typeof e.details.to === 'string' ? e.details.to : e.type === 'pki.device.enrolled' ? 'active' : null,
  reason: e.reason,
  decision: e.decision,
  requestId: e.context.requestId,
});

/**
 * The console's device search and a unit's history on the admin plane (both read-only, `pki:read_device`): find
 * units by device id, TCU serial, certificate serial or VIN; list a unit's certificates and lifecycle changes.
 */
export function registerDeviceSearchRoutes(routes: RouteRegistrar, deps: { pki: Pki; audit: AuditLog }): void {
  const { pki } = deps;
  routes.get(
    '/admin/v1/devices',
    {
      auth: { kind: 'operator' },
      catalog: entry('Find units by device id, TCU serial, certificate serial or VIN (every unit of the vehicle).'),
      schema: {
        querystring: Type.Object({ q: Type.String({ pattern: '^[A-Za-z0-9._:-]{1,80}$' }) }, closed),
        response: { 200: Type.Object({ devices: Type.Array(DeviceSummary) }, closed) },
      },
    },
    async (req) => {
      const rows = await devicesFor(pki, req.query.q);
      const vins = new Map(
        (
          await findVehicles(
            pki.ctx.db,
            rows.map((d) => d.vehicle_id),
          )
        ).map((v) => [v.id, v.vin]),
      );
      const devices = rows.map((d) => ({
        id: d.id,
        vehicleId: d.vehicle_id,
        vin: vins.get(d.vehicle_id) ?? null,
        tcuSerial: d.factory_serial,
        status: d.status,
        replaces: d.replaces,
        replacedBy: d.replaced_by,
        createdAt: d.created_at,
      }));
      return { devices };
    },
  );
  routes.get(
    '/admin/v1/devices/:deviceId/history',
    {
      auth: { kind: 'operator' },
      catalog: entry("A unit's history: its certificates and every lifecycle change, oldest first."),
      schema: {
        params: Type.Object({ deviceId: Type.String({ format: 'uuid' }) }, closed),
        response: {
          200: Type.Object(
            { deviceId: S, certificates: Type.Array(CertificateSummary), changes: Type.Array(Change) },
            closed,
          ),
        },
      },
    },
    async (req) => {
      const device = await getDevice(pki.ctx.db, req.params.deviceId);
      const events = await deps.audit.list({ objectId: device.id, typePrefix: 'pki.device.', limit: 500 });
      const certificates = (await certificatesOf(pki.ctx.db, device.id)).map((c) => ({
        serial: c.serial,
        profile: c.profile,
        status: c.status,
        issuedAt: c.issued_at,
        notAfter: c.not_after,
        revokedAt: c.revoked_at,
        revocationReason: c.revocation_reason,
      }));
      return { deviceId: device.id, certificates, changes: events.reverse().map(changeOf) };
    },
  );
}
