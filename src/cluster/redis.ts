import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { CarapaceError, type Logger } from '../platform/index.js';
import {
  type Cluster,
  FAILURE_POLICY_EXCEPTIONS,
  type FailurePolicyException,
  type ReservationResult,
  type UnavailableEvent,
  type WindowMember,
  WINDOW_MEMBER_LIMIT,
} from './adapter.js';
import { createWindowCounters } from './memory.js';

/** What the Redis adapter needs. */
export interface RedisClusterOptions {
  url: string;
  prefix: string;
  commandTimeoutMs: number;
  log: Logger;
  /** Told when Redis could not answer (at most once per operation every ten seconds). */
  onUnavailable?: (event: UnavailableEvent) => void;
}

const REPORT_EVERY_MS = 10_000;
/** The longest a start waits for Redis (connecting, subscribing) before it goes on without it. */
const START_WAIT_MS = 3000;
/** The longest a caller waits for a reload announcement (a named exception) before it goes on. */
const PUBLISH_WAIT_MS = 100;
/** Seconds a client refused for an outage is told to wait. */
const RETRY_AFTER = 5;
/** Deletes KEYS[1] only while it holds ARGV[1]: a reservation is released by its holder, never by another. */
const RELEASE_IF_HELD = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";
/** Sets KEYS[1]'s TTL to ARGV[2] seconds only while it holds ARGV[1]: a lease renewed by its holder only. */
const RENEW_IF_HELD =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end return 0";

/**
 * Admits one event into the sliding window KEYS[1] only while it holds fewer than ARGV[2]: trims what is older
 * than ARGV[1], counts, adds the member ARGV[4] at score ARGV[3], and sets the TTL ARGV[5]. One script, so no
 * other caller runs between the count and the add. Returns 1 when admitted.
 */
const ADMIT_EVENT = `redis.call('zremrangebyscore', KEYS[1], 0, ARGV[1])
if redis.call('zcard', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('zadd', KEYS[1], ARGV[3], ARGV[4])
redis.call('expire', KEYS[1], ARGV[5])
return 1`;

/**
 * Adds member ARGV[1] at score ARGV[2] to the scored window KEYS[1] unless it is there (NX: its score stays),
 * after dropping members scored below ARGV[2] - ARGV[3]; keeps at most ARGV[4] members (the lowest go) and sets
 * the TTL to ARGV[3] ms. One script, so a window is never seen half-trimmed. Returns 1 when the member is new.
 */
const WINDOW_ADD = `redis.call('zremrangebyscore', KEYS[1], '-inf', '(' .. (tonumber(ARGV[2]) - tonumber(ARGV[3])))
local added = redis.call('zadd', KEYS[1], 'NX', ARGV[2], ARGV[1])
local n = redis.call('zcard', KEYS[1])
if n > tonumber(ARGV[4]) then redis.call('zremrangebyrank', KEYS[1], 0, n - tonumber(ARGV[4]) - 1) end
redis.call('pexpire', KEYS[1], ARGV[3])
return added`;

/**
 * The cluster mode: one command connection and one subscriber connection for the whole process. The command
 * connection has no offline queue and a per-command timeout, so while Redis is away every call fails at once
 * (and the caller fails closed) instead of piling up; ioredis reconnects in the background.
 */
export function createRedisCluster(options: RedisClusterOptions): Cluster & { connect(): Promise<void> } {
  const { prefix, log } = options;
  const startWaitMs = Math.max(options.commandTimeoutMs, START_WAIT_MS);
  // Connections are named after the prefix (CLIENT LIST shows whose they are); names cannot hold spaces.
  const named = (role: string) => `${prefix}${role}`.replace(/[^\x21-\x7e]/g, '_');
  const base: RedisOptions = {
    lazyConnect: true,
    connectTimeout: options.commandTimeoutMs,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  };
  const cmd = new Redis(options.url, {
    ...base,
    connectionName: named('command'),
    commandTimeout: options.commandTimeoutMs,
    // A command in flight when the connection drops fails; it is never sent again after the reconnect. Redis may
    // have run it before the reply was lost: a re-sent SET NX of a DPoP proof then found its own key and called the
    // proof a replay (401 for an outage), a re-sent INCRBY counted twice.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableOfflineQueue: false,
  });
  let sub: Redis | null = null;
  const handlers = new Map<string, Set<(message: string) => void>>();
  const local = createWindowCounters();
  const lastReported = new Map<string, number>();
  // Errors reach callers through each command (and the failure policy); this only stops unhandled-error noise.
  cmd.on('error', () => undefined);
  const reconnectHandlers = new Set<() => void>();
  // Every 'ready' after the first (or the first, when the start went on without Redis) ends an outage, during which
  // pub/sub messages were lost: the handlers reload what the messages would have named.
  let announceReady = false;
  cmd.on('ready', () => {
    if (announceReady) {
      log.info({ prefix }, 'Redis is reachable again; reloading what its messages may have missed');
      for (const handler of reconnectHandlers) {
        try {
          handler();
        } catch (err) {
          log.warn({ err }, 'a Redis reconnect handler failed');
        }
      }
    }
    announceReady = true;
  });

  function report(operation: string, exception: FailurePolicyException | null, err: unknown): void {
    const at = Date.now();
    const key = `${operation}:${exception ?? ''}`;
    if (at - (lastReported.get(key) ?? 0) < REPORT_EVERY_MS) return;
    lastReported.set(key, at);
    const error = err instanceof Error ? err.message : String(err);
    const event = { operation, exception, error };
    if (exception) log.warn(event, `Redis unavailable; ${FAILURE_POLICY_EXCEPTIONS[exception]} (named exception)`);
    else log.error(event, 'Redis unavailable; refusing the operation (security limits fail closed)');
    try {
      options.onUnavailable?.(event);
    } catch (hookErr) {
      log.warn({ err: hookErr }, 'reporting a Redis outage failed');
    }
  }

  /** Runs one Redis operation under the failure policy: any failure becomes ERR_CLUSTER_UNAVAILABLE. */
  async function run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      report(operation, null, err);
      throw new CarapaceError(
        'ERR_CLUSTER_UNAVAILABLE',
        'cluster coordination is unavailable; nothing was done, retry shortly',
        { retryAfter: RETRY_AFTER, operation },
        { cause: err },
      );
    }
  }

  const k = (key: string) => `${prefix}${key}`;

  return {
    kind: 'redis',
    prefix,
    async connect() {
      // Starting without Redis is allowed: requests that need it are refused until it answers, and ioredis
      // keeps reconnecting in the background. The start waits a few seconds at most.
      const connecting = cmd.connect();
      const timedOut = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), startWaitMs).unref());
      const outcome = await Promise.race([connecting, timedOut]).catch((err: unknown) => err);
      connecting.catch(() => undefined);
      if (outcome !== undefined) {
        announceReady = true;
        report('connect', null, outcome === 'timeout' ? 'connect timed out' : outcome);
      }
    },
    async countWindow(key, n, windowSeconds, nowMs, opts) {
      const size = windowSeconds * 1000;
      const window = Math.floor(nowMs / size);
      const resetInMs = (window + 1) * size - nowMs;
      const wk = k(`${key}:${window}`);
      try {
        const result = await cmd
          .multi()
          .incrby(wk, n)
          .pexpire(wk, size + 1000)
          .exec();
        const count = Number(result?.[0]?.[1]);
        if (result?.[0]?.[0] || !Number.isFinite(count)) throw new Error('unexpected INCRBY reply');
        return { count, resetInMs };
      } catch (err) {
        if (opts?.exception === 'telemetry-rate') {
          report('countWindow', 'telemetry-rate', err);
          return local.add(key, n, windowSeconds, nowMs);
        }
        return run('countWindow', () => Promise.reject(err));
      }
    },
    countRecent(key, windowSeconds, nowMs) {
      return run('countRecent', async () => {
        const result = await cmd
          .multi()
          .zremrangebyscore(k(key), 0, nowMs - windowSeconds * 1000)
          .zcard(k(key))
          .exec();
        const count = Number(result?.[1]?.[1]);
        if (result?.[1]?.[0] || !Number.isFinite(count)) throw new Error('unexpected ZCARD reply');
        return count;
      });
    },
    recordEvent(key, windowSeconds, nowMs) {
      return run('recordEvent', async () => {
        const result = await cmd
          .multi()
          .zadd(k(key), nowMs, `${nowMs}:${randomUUID()}`)
          .zremrangebyscore(k(key), 0, nowMs - windowSeconds * 1000)
          .expire(k(key), windowSeconds)
          .exec();
        if (!result || result.some(([err]) => err)) throw new Error('unexpected MULTI reply');
      });
    },
    admitEvent(key, limit, windowSeconds, nowMs) {
      return run('admitEvent', async () => {
        const ticket = `${nowMs}:${randomUUID()}`;
        const cutoff = nowMs - windowSeconds * 1000;
        const admitted = await cmd.eval(ADMIT_EVENT, 1, k(key), cutoff, limit, nowMs, ticket, windowSeconds);
        return Number(admitted) === 1 ? ticket : null;
      });
    },
    withdrawEvent(key, ticket) {
      return run('withdrawEvent', async () => {
        await cmd.zrem(k(key), ticket);
      });
    },
    forget(key) {
      return run('forget', async () => {
        await cmd.del(k(key));
      });
    },
    windowAdd(key, member, scoreMs, ttlMs) {
      return run('windowAdd', async () => {
        const added = await cmd.eval(WINDOW_ADD, 1, k(key), member, scoreMs, ttlMs, WINDOW_MEMBER_LIMIT);
        return Number(added) === 1;
      });
    },
    windowRange(key, fromMs, toMs, limit) {
      return run('windowRange', async () => {
        const n = Math.min(limit, WINDOW_MEMBER_LIMIT);
        const flat = await cmd.zrangebyscore(k(key), fromMs, toMs, 'WITHSCORES', 'LIMIT', 0, n);
        const out: WindowMember[] = [];
        for (let i = 0; i + 1 < flat.length; i += 2)
          out.push({ member: flat[i] as string, score: Number(flat[i + 1]) });
        return out;
      });
    },
    windowCount(key, fromMs, toMs) {
      return run('windowCount', async () => Number(await cmd.zcount(k(key), fromMs, toMs)));
    },
    reserve(key, value, ttlSeconds) {
      return run('reserve', async (): Promise<ReservationResult> => {
        if ((await cmd.set(k(key), value, 'EX', ttlSeconds, 'NX')) === 'OK') return { reserved: true };
        return { reserved: false, holder: await cmd.get(k(key)) };
      });
    },
    release(key, value) {
      return run('release', async () => {
        await cmd.eval(RELEASE_IF_HELD, 1, k(key), value);
      });
    },
    renew(key, value, ttlSeconds) {
      return run('renew', async () => (await cmd.eval(RENEW_IF_HELD, 1, k(key), value, ttlSeconds)) === 1);
    },
    seenOnce(key, ttlSeconds) {
      return run('seenOnce', async () => (await cmd.set(k(`seen:${key}`), '1', 'EX', ttlSeconds, 'NX')) === 'OK');
    },
    async publish(channel, message, opts) {
      if (
        opts?.exception === 'credential-fanout' ||
        opts?.exception === 'job-routing' ||
        opts?.exception === 'job-feed'
      ) {
        // The change is already committed and the message only asks nodes to reload: the caller (an operator's
        // revoke) waits at most PUBLISH_WAIT_MS for it, never a whole command timeout per message.
        const exception = opts.exception;
        const sent = cmd.publish(k(channel), message).then(
          () => undefined,
          (err: unknown) => report('publish', exception, err),
        );
        await Promise.race([sent, new Promise((resolve) => setTimeout(resolve, PUBLISH_WAIT_MS).unref())]);
        return;
      }
      await run('publish', () => cmd.publish(k(channel), message));
    },
    async subscribe(channel, handler) {
      if (!sub) {
        // A subscribed connection can run nothing else; it queues SUBSCRIBE until connected, and resubscribes.
        sub = new Redis(options.url, { ...base, connectionName: named('subscriber'), maxRetriesPerRequest: null });
        sub.on('error', () => undefined);
        sub.on('message', (ch: string, message: string) => {
          for (const h of handlers.get(ch) ?? []) {
            try {
              h(message);
            } catch (err) {
              log.warn({ err, channel: ch }, 'a cluster message handler failed');
            }
          }
        });
        void sub.connect().catch((err: unknown) => report('subscribe', null, err));
      }
      let set = handlers.get(k(channel));
      if (!set) {
        handlers.set(k(channel), (set = new Set()));
        const subscribed = sub.subscribe(k(channel));
        // Without Redis the node still starts; the subscription completes when Redis answers, and the reconnect
        // reload covers what it missed meanwhile. While Redis is known to be down, the start does not wait at all.
        if (cmd.status === 'ready')
          await Promise.race([subscribed, new Promise((resolve) => setTimeout(resolve, startWaitMs).unref())]).catch(
            (err: unknown) => report('subscribe', null, err),
          );
        subscribed.catch(() => undefined);
      }
      set.add(handler);
    },
    async ping() {
      try {
        return (await cmd.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
    onReconnect(handler) {
      reconnectHandlers.add(handler);
    },
    async close() {
      sub?.disconnect();
      cmd.disconnect();
    },
  };
}
