import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../storage/index.js';
import type { Payload } from './payload-schemas.js';
import type { VehicleStateRow } from './tables.js';

/** One field of the vehicle's state with the time of the message it came from (ISO 8601). */
export interface Timed<T> {
  value: T;
  at: string;
}

/** The last known state of a vehicle, as the commands module reads it for safety checks. */
export interface VehicleState {
  vehicleId: string;
  speedKmh: Timed<number> | null;
  gear: Timed<'P' | 'R' | 'N' | 'D'> | null;
  locks: Timed<{ locked: boolean; open: string[] }> | null;
  position: Timed<{ lat: number; lon: number }> | null;
  charging: Timed<{ charging: boolean; plugged: boolean; socPercent: number }> | null;
  odometerKm: Timed<number> | null;
  diagnostics: Timed<Array<{ code: string; status: string }>> | null;
  updatedAt: string;
}

const timed = <T>(value: T | null, at: string | null): Timed<T> | null =>
  value === null || at === null ? null : { value, at };

/** Maps a stored row to the state view. */
export function stateFromRow(row: Selectable<VehicleStateRow>): VehicleState {
  return {
    vehicleId: row.vehicle_id,
    speedKmh: timed(row.speed_kmh, row.speed_at),
    gear: timed(row.gear as 'P' | 'R' | 'N' | 'D' | null, row.gear_at),
    locks:
      row.locked === null
        ? null
        : timed({ locked: row.locked === 1, open: JSON.parse(row.open_doors ?? '[]') as string[] }, row.doors_at),
    position:
      row.latitude === null || row.longitude === null
        ? null
        : timed({ lat: row.latitude, lon: row.longitude }, row.position_at),
    charging:
      row.charging === null
        ? null
        : timed(
            { charging: row.charging === 1, plugged: row.plugged === 1, socPercent: row.soc_percent ?? 0 },
            row.battery_at,
          ),
    odometerKm: timed(row.odometer_km, row.odometer_at),
    diagnostics:
      row.diagnostic_codes === null
        ? null
        : timed(JSON.parse(row.diagnostic_codes) as Array<{ code: string; status: string }>, row.diagnostics_at),
    updatedAt: row.updated_at,
  };
}

/** Reads a vehicle's last known state; null when no accepted message has reported anything yet. */
export async function readVehicleState(db: Kysely<Database>, vehicleId: string): Promise<VehicleState | null> {
  const row = await db.selectFrom('vehicle_state').selectAll().where('vehicle_id', '=', vehicleId).executeTakeFirst();
  return row ? stateFromRow(row) : null;
}

/** An empty state row for a vehicle that has reported nothing yet. */
export function emptyStateRow(vehicleId: string, at: string): VehicleStateRow {
  return {
    vehicle_id: vehicleId,
    speed_kmh: null,
    speed_at: null,
    gear: null,
    gear_at: null,
    locked: null,
    open_doors: null,
    doors_at: null,
    latitude: null,
    longitude: null,
    position_at: null,
    charging: null,
    plugged: null,
    soc_percent: null,
    battery_at: null,
    odometer_km: null,
    odometer_at: null,
    diagnostic_codes: null,
    diagnostics_at: null,
    updated_at: at,
  };
}

/**
 * True when `at` is not older than the field's current time: a field never moves backwards, and of two
 * readings with the same timestamp the one accepted later wins.
 */
const newer = (at: string, current: string | null) => current === null || at >= current;

/**
 * Applies an accepted payload to the state row in place, field by field, only where the message is not older
 * than what the field holds. Returns whether anything changed.
 */
export function applyPayload(row: VehicleStateRow, payload: Payload, at: string, receivedAt: string): boolean {
  let changed = false;
  const set = (field: keyof VehicleStateRow, apply: () => void) => {
    if (!newer(at, row[field] as string | null)) return;
    apply();
    changed = true;
  };
  switch (payload.kind) {
    case 'speed':
      set('speed_at', () => Object.assign(row, { speed_kmh: payload.kmh, speed_at: at }));
      break;
    case 'gear':
      set('gear_at', () => Object.assign(row, { gear: payload.gear, gear_at: at }));
      break;
    case 'doors':
      set('doors_at', () =>
        Object.assign(row, {
          locked: payload.locked ? 1 : 0,
          open_doors: JSON.stringify([...payload.open].sort()),
          doors_at: at,
        }),
      );
      break;
    case 'position':
      set('position_at', () => Object.assign(row, { latitude: payload.lat, longitude: payload.lon, position_at: at }));
      break;
    case 'battery':
      set('battery_at', () =>
        Object.assign(row, {
          charging: payload.charging ? 1 : 0,
          plugged: payload.plugged ? 1 : 0,
          soc_percent: payload.socPercent,
          battery_at: at,
        }),
      );
      break;
    case 'odometer':
      set('odometer_at', () => Object.assign(row, { odometer_km: payload.km, odometer_at: at }));
      break;
    case 'diagnostics':
      set('diagnostics_at', () =>
        Object.assign(row, { diagnostic_codes: JSON.stringify(payload.codes), diagnostics_at: at }),
      );
      break;
  }
  if (changed) row.updated_at = receivedAt;
  return changed;
}

/** A change of the vehicle's discrete state (locks and doors, gear, charging), as subscribers hear of it. */
export interface DiscreteChange {
  fields: Array<'locks' | 'gear' | 'charging'>;
  locked: boolean | null;
  openDoors: string[];
  gear: string | null;
  charging: boolean | null;
  plugged: boolean | null;
}

const flag = (v: number | null): boolean | null => (v === null ? null : v === 1);

/**
 * What changed between two state rows in the fields a person or partner acts on. Speed, position, odometer and
 * state of charge change with nearly every message and are left out: this is an event, not a telemetry feed.
 */
export function discreteChange(before: VehicleStateRow, after: VehicleStateRow): DiscreteChange | null {
  const fields: DiscreteChange['fields'] = [];
  if (before.locked !== after.locked || before.open_doors !== after.open_doors) fields.push('locks');
  if (before.gear !== after.gear) fields.push('gear');
  if (before.charging !== after.charging || before.plugged !== after.plugged) fields.push('charging');
  if (fields.length === 0) return null;
  return {
    fields,
    locked: flag(after.locked),
    openDoors: JSON.parse(after.open_doors ?? '[]') as string[],
    gear: after.gear,
    charging: flag(after.charging),
    plugged: flag(after.plugged),
  };
}
