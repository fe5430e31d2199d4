import type { Cluster } from '../cluster/index.js';

/** Counts messages per key in fixed windows and grants what still fits under a limit. */
export interface RateCounter {
  /** Adds `n` messages to `key`'s current window and returns how many of them fit under `limit`. */
  take(key: string, n: number, limit: number, windowSeconds: number, nowMs: number): Promise<number>;
  close(): Promise<void>;
}

function granted(totalAfter: number, n: number, limit: number): number {
  return Math.max(0, Math.min(n, limit - (totalAfter - n)));
}

/** In-process counter (tests; the embedded mode goes through the memory cluster adapter). */
export function createMemoryRateCounter(): RateCounter {
  const windows = new Map<string, { window: number; count: number }>();
  return {
    async take(key, n, limit, windowSeconds, nowMs) {
      const window = Math.floor(nowMs / (windowSeconds * 1000));
      let entry = windows.get(key);
      if (!entry || entry.window !== window) {
        entry = { window, count: 0 };
        windows.set(key, entry);
        // Keys of devices that went quiet are dropped when the map grows, never during a burst of one key.
        if (windows.size > 100_000) for (const [k, e] of windows) if (e.window !== window) windows.delete(k);
      }
      entry.count += n;
      return granted(entry.count, n, limit);
    },
    async close() {},
  };
}

/**
 * Cluster-wide counter over the cluster adapter: one Redis key per key and window, incremented atomically and
 * expiring with the window. If Redis cannot answer, the adapter counts in this process instead: the named
 * failure-policy exception `telemetry-rate` (see FAILURE_POLICY_EXCEPTIONS for why it is safe).
 */
export function createClusterRateCounter(cluster: Cluster): RateCounter {
  return {
    async take(key, n, limit, windowSeconds, nowMs) {
      const { count } = await cluster.countWindow(`telemetry:rate:${key}`, n, windowSeconds, nowMs, {
        exception: 'telemetry-rate',
      });
      return granted(count, n, limit);
    },
    // The adapter belongs to the platform, which closes it.
    async close() {},
  };
}
