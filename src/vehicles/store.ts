import type { Kysely } from 'kysely';
import { CarapaceError } from '../platform/index.js';
import { newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { VehicleRow } from './tables.js';

const VIN = /^[A-HJ-NPR-Z0-9]{17}$/;

/** Validates a VIN's shape (ISO 3779: 17 characters, no I, O or Q). */
export function assertVin(vin: string): void {
  if (!VIN.test(vin))
    throw new CarapaceError('ERR_VALIDATION', 'a VIN is 17 characters from A-Z and 0-9 without I, O or Q', {
      field: 'vin',
    });
}

/** Finds a vehicle by VIN, or creates it; a new vehicle gets a random id. */
export async function findOrCreateVehicle(
  trx: Kysely<Database>,
  args: { vin: string | null; at: Date },
): Promise<{ vehicle: VehicleRow; created: boolean }> {
  if (args.vin !== null) {
    assertVin(args.vin);
    const existing = await trx.selectFrom('vehicles').selectAll().where('vin', '=', args.vin).executeTakeFirst();
    if (existing) return { vehicle: existing, created: false };
  }
  const vehicle: VehicleRow = { id: newId(), vin: args.vin, created_at: args.at.toISOString() };
  await trx.insertInto('vehicles').values(vehicle).execute();
  return { vehicle, created: true };
}

/** Loads a vehicle by id or throws ERR_NOT_FOUND. */
export async function getVehicle(db: Kysely<Database>, id: string): Promise<VehicleRow> {
  const row = await db.selectFrom('vehicles').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new CarapaceError('ERR_NOT_FOUND', 'no such vehicle', { vehicleId: id });
  return row;
}

/** A vehicle by VIN, or undefined. */
export async function findVehicleByVin(db: Kysely<Database>, vin: string): Promise<VehicleRow | undefined> {
  return db.selectFrom('vehicles').selectAll().where('vin', '=', vin).executeTakeFirst();
}

/** Several vehicles by id, in one query (unknown ids are absent). */
export async function findVehicles(db: Kysely<Database>, ids: readonly string[]): Promise<VehicleRow[]> {
  if (ids.length === 0) return [];
  return db
    .selectFrom('vehicles')
    .selectAll()
    .where('id', 'in', [...ids])
    .execute();
}
