import type { VehicleState } from '../telemetry/index.js';
import type { CommandType } from './catalog.js';

/** Bounding boxes of the regions some commands are not offered in (coarse, for a regulatory default). */
const REGIONS: Record<string, { lat: [number, number]; lon: [number, number] }> = {
  // Switzerland: idling an engine without need is prohibited (VRV art. 34), so no remote start.
  CH: { lat: [45.8, 47.81], lon: [5.95, 10.49] },
};

/** The region of a position, or null outside every listed region. */
export function regionOf(lat: number, lon: number): string | null {
  for (const [code, box] of Object.entries(REGIONS)) {
    if (lat >= box.lat[0] && lat <= box.lat[1] && lon >= box.lon[0] && lon <= box.lon[1]) return code;
  }
  return null;
}

/** What the state check saw: recorded in the decision record. */
export interface StateSnapshot {
  speedKmh: number | null;
  gear: string | null;
  plugged: boolean | null;
  region: string | null;
  oldestUsedAt: string | null;
  verdict: string;
}

/**
 * Checks a command against the vehicle's last accepted signed telemetry. Each field it needs must be
 * newer than `maxAgeSeconds`; unknown or stale state denies (fail closed).
 */
export function checkVehicleState(
  type: CommandType,
  state: VehicleState | null,
  now: Date,
  maxAgeSeconds: number,
): { ok: boolean; reason: string; snapshot: StateSnapshot } {
  const fresh = <T>(f: { value: T; at: string } | null | undefined): T | undefined =>
    f && now.getTime() - Date.parse(f.at) <= maxAgeSeconds * 1000 ? f.value : undefined;
  const speed = fresh(state?.speedKmh);
  const gear = fresh(state?.gear);
  const charging = fresh(state?.charging);
  const position = fresh(state?.position);
  const region = position ? regionOf(position.lat, position.lon) : null;
  const used = [state?.speedKmh?.at, state?.gear?.at, state?.charging?.at, state?.position?.at]
    .filter((x): x is string => typeof x === 'string')
    .sort();
  const snapshot = (verdict: string): StateSnapshot => ({
    speedKmh: speed ?? null,
    gear: gear ?? null,
    plugged: charging?.plugged ?? null,
    region,
    oldestUsedAt: used[0] ?? null,
    verdict,
  });
  const deny = (reason: string) => ({ ok: false, reason, snapshot: snapshot(reason) });
  for (const need of type.requires) {
    if (need === 'stationary' || need === 'parked') {
      if (speed === undefined) return deny('vehicle_state_unknown');
      if (speed > 0) return deny('vehicle_moving');
      if (need === 'parked') {
        if (gear === undefined) return deny('vehicle_state_unknown');
        if (gear !== 'P') return deny('vehicle_not_parked');
      }
    }
    if (need === 'plugged_in') {
      if (charging === undefined) return deny('vehicle_state_unknown');
      if (!charging.plugged) return deny('vehicle_not_plugged_in');
    }
  }
  if (type.disallowedRegions.length > 0) {
    if (!position) return deny('vehicle_state_unknown');
    if (region && type.disallowedRegions.includes(region)) return deny('region_disallowed');
  }
  return { ok: true, reason: 'ok', snapshot: snapshot('ok') };
}
