/**
 * What other modules may read of the PKI's tables (devices and certificates). Each function takes the caller's
 * database handle or transaction. Certificates carry public material only; private keys never reach a table.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import type { CertificateRow, DeviceRow, DeviceStatus } from './tables.js';

/** A device by id, or undefined. */
export async function findDevice(db: Kysely<Database>, id: string): Promise<DeviceRow | undefined> {
  return db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The statuses of several devices, by id (unknown ids are absent). */
export async function deviceStatuses(db: Kysely<Database>, ids: readonly string[]): Promise<Map<string, DeviceStatus>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('devices')
    .select(['id', 'status'])
    .where('id', 'in', [...ids])
    .execute();
  return new Map(rows.map((r) => [r.id, r.status]));
}

/**
 * The vehicle's newest unit: the one not replaced by another, or with `statuses`, the newest in one of them.
 */
export async function currentDeviceOf(
  db: Kysely<Database>,
  vehicleId: string,
  statuses?: readonly DeviceStatus[],
): Promise<DeviceRow | undefined> {
  let q = db.selectFrom('devices').selectAll().where('vehicle_id', '=', vehicleId);
  q = statuses ? q.where('status', 'in', [...statuses]) : q.where('replaced_by', 'is', null);
  return q.orderBy('created_at', 'desc').executeTakeFirst();
}

/** The newest units that are not replaced (one per vehicle, whatever its status), for the console's fleet view. */
export async function currentDevices(db: Kysely<Database>, limit: number): Promise<DeviceRow[]> {
  return db
    .selectFrom('devices')
    .selectAll()
    .where('replaced_by', 'is', null)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(limit)
    .execute();
}

/** The ids of the active devices (those that can receive commands), for fleet-wide readiness checks. */
export async function activeDeviceIds(db: Kysely<Database>): Promise<string[]> {
  return (await db.selectFrom('devices').select(['id']).where('status', '=', 'active').execute()).map((r) => r.id);
}

/** A certificate by serial, or undefined. */
export async function findCertificate(db: Kysely<Database>, serial: string): Promise<CertificateRow | undefined> {
  return db.selectFrom('certificates').selectAll().where('serial', '=', serial).executeTakeFirst();
}

/** A certificate by its SHA-256 thumbprint, or undefined. */
export async function findCertificateByThumbprint(
  db: Kysely<Database>,
  thumbprint: string,
): Promise<CertificateRow | undefined> {
  return db.selectFrom('certificates').selectAll().where('thumbprint', '=', thumbprint).executeTakeFirst();
}

/** Every certificate issued to a device, newest first. */
export async function certificatesOf(db: Kysely<Database>, deviceId: string): Promise<CertificateRow[]> {
  return db
    .selectFrom('certificates')
    .selectAll()
    .where('device_id', '=', deviceId)
    .orderBy('issued_at', 'desc')
    .execute();
}

/** A device's operational certificates before `exceptSerial` that were not revoked, newest first. */
export async function earlierOperationalCertificates(
  db: Kysely<Database>,
  args: { deviceId: string; exceptSerial: string; limit: number },
): Promise<CertificateRow[]> {
  return db
    .selectFrom('certificates')
    .selectAll()
    .where('device_id', '=', args.deviceId)
    .where('profile', '=', 'operational')
    .where('serial', '!=', args.exceptSerial)
    .where('revoked_at', 'is', null)
    .orderBy('issued_at', 'desc')
    .limit(args.limit)
    .execute();
}

/** When each active certificate was issued, by profile: what the governance metrics measure credential ages from. */
export async function activeCertificateIssues(
  db: Kysely<Database>,
): Promise<Array<{ profile: CertificateRow['profile']; issuedAt: string }>> {
  const rows = await db
    .selectFrom('certificates')
    .select(['profile', 'issued_at'])
    .where('status', '=', 'active')
    .execute();
  return rows.map((r) => ({ profile: r.profile, issuedAt: r.issued_at }));
}

/** The units with this TCU serial (a serial is data, so more than one unit may carry it), newest first. */
export async function devicesBySerial(db: Kysely<Database>, serial: string): Promise<DeviceRow[]> {
  return db
    .selectFrom('devices')
    .selectAll()
    .where('factory_serial', '=', serial)
    .orderBy('created_at', 'desc')
    .limit(50)
    .execute();
}

/** Every unit a vehicle has had (its replacement chain), newest first. */
export async function devicesOfVehicle(db: Kysely<Database>, vehicleId: string): Promise<DeviceRow[]> {
  return db
    .selectFrom('devices')
    .selectAll()
    .where('vehicle_id', '=', vehicleId)
    .orderBy('created_at', 'desc')
    .limit(50)
    .execute();
}
