import { Redis } from 'ioredis';
import type { Logger } from '../platform/index.js';
import type { CredentialChange } from './revocation-cache.js';

/** Carries credential changes between processes. */
export interface RevocationFanout {
  publish(change: CredentialChange): Promise<void>;
  subscribe(handler: (change: CredentialChange) => void): Promise<void>;
  close(): Promise<void>;
}

const CHANNEL = 'carapace:pki:credential-changes';

/** No other process to tell: the embedded mode. The periodic reload still covers CLI changes. */
export const localFanout: RevocationFanout = {
  publish: async () => {},
  subscribe: async () => {},
  close: async () => {},
};

/** Redis pub/sub fan-out for cluster mode: a revocation reaches every process in milliseconds. */
export function createRedisFanout(url: string, log: Logger): RevocationFanout {
  const pub = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  // Publishing failures reach the caller; the database poll is the backstop. This only stops unhandled-error noise.
  pub.on('error', () => undefined);
  let sub: Redis | null = null;
  return {
    async publish(change) {
      if (pub.status === 'wait') await pub.connect();
      await pub.publish(CHANNEL, JSON.stringify(change));
    },
    async subscribe(handler) {
      sub = new Redis(url, { lazyConnect: true });
      sub.on('error', () => undefined);
      await sub.connect();
      await sub.subscribe(CHANNEL);
      sub.on('message', (_channel: string, message: string) => {
        try {
          handler(JSON.parse(message) as CredentialChange);
        } catch (err) {
          log.warn({ err }, 'ignored a malformed credential change from Redis');
        }
      });
    },
    async close() {
      sub?.disconnect();
      pub.disconnect();
    },
  };
}
