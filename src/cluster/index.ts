import type { Config } from '../config/index.js';
import type { Logger } from '../platform/index.js';
import type { Cluster, UnavailableEvent } from './adapter.js';
import { createMemoryCluster } from './memory.js';
import { createRedisCluster } from './redis.js';

export {
  type Cluster,
  type ExceptionOption,
  FAILURE_POLICY_EXCEPTIONS,
  type FailurePolicyException,
  type ReservationResult,
  type UnavailableEvent,
  type WindowCount,
  type WindowMember,
  WINDOW_MEMBER_LIMIT,
} from './adapter.js';
export { createMemoryCluster } from './memory.js';
export { createRedisCluster } from './redis.js';

/** Opens the process's one cluster adapter: Redis when `redis.url` is set, memory otherwise. */
export async function createCluster(
  config: Pick<Config, 'redis'>,
  options: { log: Logger; onUnavailable?: (event: UnavailableEvent) => void },
): Promise<Cluster> {
  if (!config.redis.url) return createMemoryCluster({ prefix: config.redis.keyPrefix });
  const cluster = createRedisCluster({
    url: config.redis.url,
    prefix: config.redis.keyPrefix,
    commandTimeoutMs: config.redis.commandTimeoutMs,
    log: options.log,
    onUnavailable: options.onUnavailable,
  });
  await cluster.connect();
  return cluster;
}
