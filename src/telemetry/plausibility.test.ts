import { describe, expect, it } from 'vitest';
import { distanceKm, isOdometerDecrease, isOdometerJump, isPositionJump } from './plausibility.js';

describe('plausibility', () => {
  it('measures great-circle distances', () => {
    // Munich to Berlin: about 504 km.
    expect(distanceKm({ lat: 48.1374, lon: 11.5755 }, { lat: 52.52, lon: 13.405 })).toBeGreaterThan(500);
    expect(distanceKm({ lat: 48.1374, lon: 11.5755 }, { lat: 52.52, lon: 13.405 })).toBeLessThan(510);
  });

  it('flags only moves faster than the limit, in either time order, with GPS noise allowed', () => {
    const munich = { value: { lat: 48.1374, lon: 11.5755 }, at: 0 };
    const berlin = (hours: number) => ({ value: { lat: 52.52, lon: 13.405 }, at: hours * 3_600_000 });
    expect(isPositionJump(munich, berlin(1), 300)).toBe(true);
    expect(isPositionJump(munich, berlin(2), 300)).toBe(false);
    expect(isPositionJump(berlin(1), munich, 300)).toBe(true);
    expect(isPositionJump(munich, { value: { lat: 48.1376, lon: 11.5757 }, at: 0 }, 300)).toBe(false);
    expect(isPositionJump(null, munich, 300)).toBe(false);
  });

  it('refuses an odometer that decreases over time', () => {
    const prev = { value: 1000, at: 1000 };
    expect(isOdometerDecrease(prev, { value: 999.9, at: 2000 })).toBe(true);
    expect(isOdometerDecrease(prev, { value: 1000, at: 2000 })).toBe(false);
    expect(isOdometerDecrease(prev, { value: 1001, at: 500 })).toBe(true);
    expect(isOdometerDecrease(prev, { value: 900, at: 500 })).toBe(false);
    expect(isOdometerDecrease(null, { value: 1, at: 1 })).toBe(false);
  });

  it('flags an odometer that grows faster than the vehicle can drive', () => {
    expect(isOdometerJump(null, { value: 9_000_000, at: 0 }, 300)).toBe(false);
    expect(isOdometerJump({ value: 1000, at: 0 }, { value: 1300, at: 3_600_000 }, 300)).toBe(false);
    expect(isOdometerJump({ value: 1000, at: 0 }, { value: 1302, at: 3_600_000 }, 300)).toBe(true);
    expect(isOdometerJump({ value: 1000, at: 0 }, { value: 10_000_000, at: 1000 }, 300)).toBe(true);
  });
});
