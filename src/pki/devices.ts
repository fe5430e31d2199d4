import type { Kysely } from 'kysely';
import type { RequestContext } from '../audit/index.js';
import { CarapaceError } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { PkiAuditLog } from './audit-events.js';
import type { DeviceRow, DeviceStatus } from './tables.js';

/**
 * The device lifecycle. Anything not listed is refused: a decommissioned unit never comes back, and a
 * revoked unit can only be decommissioned (a replacement unit gets a new device id).
 */
export const DEVICE_TRANSITIONS: Record<DeviceStatus, readonly DeviceStatus[]> = {
  provisioned: ['active', 'decommissioned'],
  active: ['quarantined', 'revoked', 'decommissioned'],
  quarantined: ['active', 'revoked', 'decommissioned'],
  revoked: ['decommissioned'],
  decommissioned: [],
};

/** RFC 5280 CRL reason codes accepted by revocation. */
export const REVOCATION_REASONS = [
  'unspecified',
  'keyCompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'privilegeWithdrawn',
] as const;
/** One RFC 5280 reason code. */
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/** Who asked for a change, for the audit event. */
export interface ChangeActor {
  type: 'operator' | 'system' | 'device';
  id: string | null;
}

/** A certificate revoked as part of a change, so callers can notify the fast-path cache. */
export interface RevokedCertificate {
  serial: string;
  deviceId: string | null;
}

/** Revokes every unrevoked certificate of a device inside `trx` and returns their serials. */
export async function revokeDeviceCertificates(
  trx: Kysely<Database>,
  deviceId: string,
  reason: RevocationReason,
  at: Date,
): Promise<RevokedCertificate[]> {
  const rows = await trx
    .selectFrom('certificates')
    .select('serial')
    .where('device_id', '=', deviceId)
    .where('status', '!=', 'revoked')
    .execute();
  if (rows.length > 0) {
    await trx
      .updateTable('certificates')
      .set({ status: 'revoked', revoked_at: at.toISOString(), revocation_reason: reason })
      .where('device_id', '=', deviceId)
      .where('status', '!=', 'revoked')
      .execute();
  }
  return rows.map((r) => ({ serial: r.serial, deviceId }));
}

/** Loads a device or throws ERR_PKI_DEVICE_NOT_FOUND. */
export async function getDevice(db: Kysely<Database>, id: string): Promise<DeviceRow> {
  const row = await db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new CarapaceError('ERR_PKI_DEVICE_NOT_FOUND', 'no such device', { deviceId: id });
  return row;
}

/**
 * Moves a device to `to` inside `trx`, refusing transitions the lifecycle does not allow, and audits it.
 * Revoking or decommissioning also revokes the device's certificates. The update is conditional on the
 * state we read, so two concurrent transitions cannot both succeed.
 */
export async function transitionDevice(
  trx: Kysely<Database>,
  audit: PkiAuditLog,
  args: {
    deviceId: string;
    to: DeviceStatus;
    reason: string;
    revocationReason?: RevocationReason;
    actor: ChangeActor;
    at: Date;
    context?: RequestContext | null;
  },
): Promise<{ device: DeviceRow; revoked: RevokedCertificate[] }> {
  const device = await getDevice(trx, args.deviceId);
  if (!DEVICE_TRANSITIONS[device.status].includes(args.to)) {
    throw new CarapaceError('ERR_PKI_TRANSITION_NOT_ALLOWED', `a ${device.status} device cannot become ${args.to}`, {
      from: device.status,
      to: args.to,
    });
  }
  const result = await trx
    .updateTable('devices')
    .set({ status: args.to, status_reason: args.reason, updated_at: args.at.toISOString() })
    .where('id', '=', device.id)
    .where('status', '=', device.status)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) {
    throw new CarapaceError('ERR_CONFLICT', 'the device changed state concurrently; retry', { deviceId: device.id });
  }
  let revoked: RevokedCertificate[] = [];
  if (args.to === 'revoked' || args.to === 'decommissioned') {
    const reason = args.revocationReason ?? (args.to === 'decommissioned' ? 'cessationOfOperation' : 'unspecified');
    revoked = await revokeDeviceCertificates(trx, device.id, reason, args.at);
  }
  await audit.append(trx, {
    type: 'pki.device.transitioned',
    actor: args.actor,
    object: { type: 'device', id: device.id },
    action: `transition:${args.to}`,
    decision: 'allow',
    reason: args.reason,
    context: args.context ?? null,
    details: {
      from: device.status,
      to: args.to,
      vehicleId: device.vehicle_id,
      revokedSerials: revoked.map((r) => r.serial),
    },
  });
  return { device: { ...device, status: args.to, status_reason: args.reason }, revoked };
}
