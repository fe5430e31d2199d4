import type { Cluster } from '../cluster/index.js';

/** Fixed-window counters shared by the command limits. */
export interface LimitCounter {
  /** Adds `n` to the counter of `key` for the current window; returns the new count and the seconds left. */
  add(key: string, n: number, windowSeconds: number, nowMs: number): Promise<{ count: number; resetIn: number }>;
  close(): Promise<void>;
}

/** Counters in this process. */
export function createMemoryLimitCounter(): LimitCounter {
  const windows = new Map<string, { start: number; count: number }>();
  return {
    async add(key, n, windowSeconds, nowMs) {
      const start = Math.floor(nowMs / (windowSeconds * 1000)) * windowSeconds * 1000;
      const w = windows.get(key);
      const cur = w && w.start === start ? w : { start, count: 0 };
      cur.count += n;
      windows.set(key, cur);
      if (windows.size > 100_000) for (const [k, v] of windows) if (v.start < start) windows.delete(k);
      return { count: cur.count, resetIn: Math.ceil((start + windowSeconds * 1000 - nowMs) / 1000) };
    },
    async close() {},
  };
}

/**
 * Counters over the cluster adapter (Redis in cluster mode, shared by every process). They fail closed: when
 * Redis cannot answer, `add` throws ERR_CLUSTER_UNAVAILABLE and the command is refused, never sent unlimited.
 */
export function createClusterLimitCounter(cluster: Cluster): LimitCounter {
  return {
    async add(key, n, windowSeconds, nowMs) {
      const { count, resetInMs } = await cluster.countWindow(`cmdlimit:${key}`, n, windowSeconds, nowMs);
      return { count, resetIn: Math.ceil(resetInMs / 1000) };
    },
    // The adapter belongs to the platform, which closes it.
    async close() {},
  };
}

/** One dimension of a limit. */
export interface LimitCheck {
  name: string;
  key: string;
  max: number;
  windowSeconds: number;
  n: number;
}

/** Counts every dimension; the first one over its limit is returned with its Retry-After, else null. */
export async function enforceLimits(
  counter: LimitCounter,
  checks: LimitCheck[],
  nowMs: number,
): Promise<{ name: string; retryAfter: number } | null> {
  let over: { name: string; retryAfter: number } | null = null;
  for (const c of checks) {
    const { count, resetIn } = await counter.add(`${c.name}:${c.key}`, c.n, c.windowSeconds, nowMs);
    if (count > c.max && !over) over = { name: c.name, retryAfter: Math.max(1, resetIn) };
  }
  return over;
}
