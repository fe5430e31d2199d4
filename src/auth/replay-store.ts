import type { Cluster } from '../cluster/index.js';
import type { ReplayStore } from '../tokens/index.js';

/** In-process store (tests, and the default of a verifier built without a cluster). */
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

/**
 * The deployment-wide store: the cluster adapter's `seenOnce` (SET NX EX in Redis, so exactly one process wins a
 * key). It fails closed: when Redis cannot answer, the claim throws ERR_CLUSTER_UNAVAILABLE and the proof is refused.
 */
export function createClusterReplayStore(cluster: Cluster): ReplayStore {
  return {
    claim: (key, ttlSeconds) => cluster.seenOnce(`replay:${key}`, ttlSeconds),
    // The adapter belongs to the platform, which closes it.
    close: async () => {},
  };
}
