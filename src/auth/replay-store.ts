import { Redis } from 'ioredis';

/** Remembers one-time values (DPoP proof ids) for a while, across every process that shares it. */
export interface ReplayStore {
  /** True the first time `key` is claimed within `ttlSeconds`; false for a replay. */
  claim(key: string, ttlSeconds: number): Promise<boolean>;
  close(): Promise<void>;
}

/** In-process store for the embedded mode. */
export function createMemoryReplayStore(now: () => number = Date.now): ReplayStore {
  const seen = new Map<string, number>();
  return {
    async claim(key, ttlSeconds) {
      const t = now();
      if (seen.size > 100_000) for (const [k, exp] of seen) if (exp < t) seen.delete(k);
      const exp = seen.get(key);
      if (exp !== undefined && exp >= t) return false;
      seen.set(key, t + ttlSeconds * 1000);
      return true;
    },
    async close() {},
  };
}

/** Redis store for cluster mode: SET NX EX is atomic, so exactly one process wins a key. */
export function createRedisReplayStore(url: string): ReplayStore {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  // Errors reach the caller through each command (which fails closed); this only stops ioredis' unhandled-error noise.
  redis.on('error', () => undefined);
  return {
    async claim(key, ttlSeconds) {
      if (redis.status === 'wait') await redis.connect();
      return (await redis.set(`carapace:replay:${key}`, '1', 'EX', ttlSeconds, 'NX')) === 'OK';
    },
    async close() {
      redis.disconnect();
    },
  };
}
