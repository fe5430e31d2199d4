import { describe, expect, it } from 'vitest';
import { busyDelayMs, reconnectDelayMs, renewalDelayMs, renewalRetryMs, retryAfterMs } from './retry-schedule.js';

const FLEET = 2500;

/** How many of `delays` fall into the busiest one-second bucket. */
const busiestSecond = (delays: number[]) => {
  const buckets = new Map<number, number>();
  for (const d of delays) buckets.set(Math.floor(d / 1000), (buckets.get(Math.floor(d / 1000)) ?? 0) + 1);
  return Math.max(...buckets.values());
};

describe('renewal and reconnect spread a fleet that moved together (issue 18 item 6)', () => {
  it('2,500 vehicles with 300 s tokens renew between 40 % and 65 % of the lifetime, spread over 75 s', () => {
    const delays = Array.from({ length: FLEET }, () => renewalDelayMs(300));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(120_000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(195_000);
    // A fixed two-thirds put all 2,500 in one second; spread uniformly over 75 s, no second holds more than ~5 %.
    expect(busiestSecond(delays)).toBeLessThan(FLEET * 0.05);
  });

  it('2,500 vehicles dropped at once reconnect spread over the backoff window, which grows with failures', () => {
    const first = Array.from({ length: FLEET }, () => reconnectDelayMs(0, 1000));
    expect(Math.max(...first)).toBeLessThanOrEqual(1000);
    const third = Array.from({ length: FLEET }, () => reconnectDelayMs(3, 1000));
    expect(Math.max(...third)).toBeLessThanOrEqual(8000);
    expect(busiestSecond(third)).toBeLessThan(FLEET * 0.25);
    expect(reconnectDelayMs(40, 1000, 30_000, () => 1)).toBe(30_000);
    expect(reconnectDelayMs(0, 1000, 30_000, () => 0)).toBe(50);
  });

  it('a failed renewal is retried before the token in force expires, however many attempts failed', () => {
    for (let attempt = 0; attempt < 30; attempt++)
      expect(renewalRetryMs(attempt, 20_000, () => 1)).toBeLessThanOrEqual(10_000);
    expect(renewalRetryMs(0, 0, () => 1)).toBe(50);
  });

  it('a busy gateway is waited out for its Retry-After plus up to as much again, spread at random', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs(['3'])).toBe(3000);
    // Only delta-seconds, bounded: an HTTP date, garbage or a huge value never parks a vehicle for long.
    expect(retryAfterMs('Wed, 21 Oct 2026 07:28:00 GMT')).toBeNull();
    expect(retryAfterMs('-1')).toBeNull();
    expect(retryAfterMs(undefined)).toBeNull();
    expect(retryAfterMs('999999')).toBe(300_000);
    const waits = Array.from({ length: FLEET }, () => busyDelayMs(2000));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(2000);
    expect(Math.max(...waits)).toBeLessThanOrEqual(4000);
    // 2,500 vehicles turned away together come back over two seconds, not in one.
    expect(busiestSecond(waits.map((w) => w - 2000))).toBeLessThan(FLEET * 0.6);
  });
});
