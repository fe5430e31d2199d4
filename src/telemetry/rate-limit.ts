import { Redis } from 'ioredis';
import type { Logger } from '../platform/index.js';

/** Counts messages per key in fixed windows and grants what still fits under a limit. */
export interface RateCounter {
  /** Adds `n` messages to `key`'s current window and returns how many of them fit under `limit`. */
  take(key: string, n: number, limit: number, windowSeconds: number, nowMs: number): Promise<number>;
  close(): Promise<void>;
}

function granted(totalAfter: number, n: number, limit: number): number {
  return Math.max(0, Math.min(n, limit - (totalAfter - n)));
}

/** In-process counter (embedded mode, and the fallback when Redis cannot answer). */
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
 * Cluster-wide counter: one Redis key per key and window, incremented atomically and expiring with the
 * window. If Redis cannot answer, the process falls back to counting locally (limits still apply, per
 * process) rather than refusing all telemetry or letting it through unlimited.
 */
export function createRedisRateCounter(url: string, log: Logger): RateCounter {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  // Connection errors surface on each command (and fall back to local counting); log them once per burst.
  let lastLogged = 0;
  redis.on('error', (err: Error) => {
    if (Date.now() - lastLogged > 10_000)
      log.warn({ err: err.message }, 'telemetry rate counter: Redis unavailable, counting locally');
    lastLogged = Date.now();
  });
  const local = createMemoryRateCounter();
  let connecting: Promise<void> | null = null;
  return {
    async take(key, n, limit, windowSeconds, nowMs) {
      const window = Math.floor(nowMs / (windowSeconds * 1000));
      const k = `carapace:telemetry:rate:${key}:${window}`;
      try {
        if (redis.status === 'wait') await (connecting ??= redis.connect());
        const result = await redis
          .multi()
          .incrby(k, n)
          .pexpire(k, windowSeconds * 1000 + 1000)
          .exec();
        const total = Number(result?.[0]?.[1]);
        if (!Number.isFinite(total)) throw new Error('unexpected INCRBY reply');
        return granted(total, n, limit);
      } catch (err) {
        log.warn({ err }, 'telemetry rate counter unavailable in Redis; counting in this process');
        return local.take(key, n, limit, windowSeconds, nowMs);
      }
    },
    async close() {
      redis.disconnect();
    },
  };
}
