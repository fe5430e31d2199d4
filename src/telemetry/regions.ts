/** An operating region as a bounding box (latitudes and longitudes in degrees, inclusive). */
export interface RegionBox {
  name: string;
  lat: [number, number];
  lon: [number, number];
}

const ENTRY = /^([A-Za-z0-9_-]{1,32}):(-?\d+(?:\.\d+)?)\.\.(-?\d+(?:\.\d+)?):(-?\d+(?:\.\d+)?)\.\.(-?\d+(?:\.\d+)?)$/;

/**
 * Reads `telemetry.regions` (`name:latMin..latMax:lonMin..lonMax`); a malformed entry refuses the start, naming
 * the option and the entry, so a typo never silently turns the out-of-region check off.
 */
export function parseRegions(entries: readonly string[]): RegionBox[] {
  return entries.map((entry) => {
    const m = ENTRY.exec(entry.trim());
    const [latMin, latMax, lonMin, lonMax] = (m?.slice(2) ?? []).map(Number) as number[];
    const valid =
      m !== null &&
      latMin! >= -90 &&
      latMax! <= 90 &&
      latMin! <= latMax! &&
      lonMin! >= -180 &&
      lonMax! <= 180 &&
      lonMin! <= lonMax!;
    if (!valid)
      throw new Error(
        `telemetry.regions: ${JSON.stringify(entry)} is not name:latMin..latMax:lonMin..lonMax within ±90/±180`,
      );
    return { name: m[1] as string, lat: [latMin!, latMax!], lon: [lonMin!, lonMax!] };
  });
}

/** True when regions are configured and the position lies in none of them. */
export function isOutOfRegion(regions: readonly RegionBox[], lat: number, lon: number): boolean {
  if (regions.length === 0) return false;
  return !regions.some((r) => lat >= r.lat[0] && lat <= r.lat[1] && lon >= r.lon[0] && lon <= r.lon[1]);
}
