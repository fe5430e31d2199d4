/** A previous reading to compare a new one with. */
export interface Reading<T> {
  value: T;
  at: number;
}

/** Great-circle distance in kilometres (haversine, mean Earth radius). */
export function distanceKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** GPS noise allowance: a fix may wander this far without any time passing. */
const POSITION_NOISE_KM = 0.5;

/**
 * True when getting from `previous` to `next` would need more than `maxKmh`. Readings in either time order
 * are compared (a backfilled message can be older than the state it is checked against).
 */
export function isPositionJump(
  previous: Reading<{ lat: number; lon: number }> | null,
  next: Reading<{ lat: number; lon: number }>,
  maxKmh: number,
): boolean {
  if (!previous) return false;
  const km = distanceKm(previous.value, next.value);
  const hours = Math.abs(next.at - previous.at) / 3_600_000;
  return km > POSITION_NOISE_KM + maxKmh * hours;
}

/**
 * True when an odometer reading contradicts the previous one: less distance later, or more distance
 * earlier. An odometer never decreases over time.
 */
export function isOdometerDecrease(previous: Reading<number> | null, next: Reading<number>): boolean {
  if (!previous) return false;
  if (next.at >= previous.at) return next.value < previous.value;
  return next.value > previous.value;
}

/** Odometer allowance for rounding between readings taken moments apart. */
const ODOMETER_NOISE_KM = 1;

/** True when the odometer grew faster than `maxKmh` since the previous (earlier) reading. */
export function isOdometerJump(previous: Reading<number> | null, next: Reading<number>, maxKmh: number): boolean {
  if (!previous || next.at < previous.at) return false;
  return next.value - previous.value > ODOMETER_NOISE_KM + maxKmh * ((next.at - previous.at) / 3_600_000);
}
