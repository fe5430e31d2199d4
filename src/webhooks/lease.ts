import { randomUUID } from 'node:crypto';
import type { WebhookDeps } from './ports.js';

/** A named lease through the cluster adapter: one node holds it at a time; renewed while held. */
export function createLease(cluster: WebhookDeps['cluster'], key: string, ttlSeconds: number) {
  const token = randomUUID();
  let held = false;
  return {
    token,
    get held() {
      return held;
    },
    /** Holds (or renews) the lease; false when another node has it. */
    async hold(): Promise<boolean> {
      if (held && (await cluster.renew(key, token, ttlSeconds))) return true;
      held = (await cluster.reserve(key, token, ttlSeconds)).reserved;
      return held;
    },
    async release(): Promise<void> {
      if (held) await cluster.release(key, token);
      held = false;
    },
  };
}
