import { describe, expect, it } from 'vitest';
import { isOutOfRegion, parseRegions } from './regions.js';

describe('operating regions', () => {
  it('reads boxes and judges positions against all of them', () => {
    const regions = parseRegions(['DE:47..55.1:5.8..15.1', 'south:-56..-10:-80..-30']);
    expect(regions[0]).toEqual({ name: 'DE', lat: [47, 55.1], lon: [5.8, 15.1] });
    expect(isOutOfRegion(regions, 48.1, 11.6)).toBe(false);
    expect(isOutOfRegion(regions, -23.5, -46.6)).toBe(false);
    expect(isOutOfRegion(regions, 41.9, 12.5)).toBe(true);
    // On the edge is inside.
    expect(isOutOfRegion(regions, 47, 5.8)).toBe(false);
  });

  it('judges nothing without regions', () => {
    expect(isOutOfRegion([], 0, 0)).toBe(false);
  });

  it('refuses a malformed or impossible entry, naming the option', () => {
    for (const bad of ['DE', 'DE:47..55', 'DE:55..47:5..15', 'DE:47..95:5..15', 'DE:47..55:5..190', ':1..2:3..4'])
      expect(() => parseRegions([bad]), bad).toThrow(/telemetry\.regions/);
  });
});
