import { randomUUID } from 'node:crypto';
import type { Cluster } from '../cluster/index.js';
import type { Clock } from '../platform/index.js';

/** Limits of failed sign-ins. */
export interface ThrottleLimits {
  perAccount: number;
  perSource: number;
  windowSeconds: number;
}

/** Counts events per key in a sliding window. */
export interface FailureCounter {
  count(key: string, windowSeconds: number, now: number): Promise<number>;
  add(key: string, windowSeconds: number, now: number): Promise<void>;
  /** Records an event only while fewer than `limit` are in the window, atomically; its ticket, or null when full. */
  admit(key: string, limit: number, windowSeconds: number, now: number): Promise<string | null>;
  /** Withdraws an admitted event by its ticket. */
  withdraw(key: string, ticket: string): Promise<void>;
  clear(key: string): Promise<void>;
  /** Drops keys with nothing in their window. */
  sweep(windowSeconds: number, now: number): Promise<void>;
  close(): Promise<void>;
}

/** In-process counter for the embedded mode. */
export function createMemoryFailureCounter(): FailureCounter & { size(): number } {
  const failures = new Map<string, number[]>();
  const tickets = new Map<string, number>();
  const recent = (key: string, windowSeconds: number, now: number) => {
    const list = (failures.get(key) ?? []).filter((t) => t > now - windowSeconds * 1000);
    if (list.length === 0) failures.delete(key);
    else failures.set(key, list);
    return list;
  };
  return {
    async count(key, windowSeconds, now) {
      return recent(key, windowSeconds, now).length;
    },
    async add(key, windowSeconds, now) {
      failures.set(key, [...recent(key, windowSeconds, now), now]);
      if (failures.size > 100_000) for (const k of [...failures.keys()]) recent(k, windowSeconds, now);
    },
    async admit(key, limit, windowSeconds, now) {
      // No await between the count and the add: one event-loop turn, so atomic in this process.
      const list = recent(key, windowSeconds, now);
      if (list.length >= limit) return null;
      failures.set(key, [...list, now]);
      const ticket = `${key}\u0000${now}\u0000${randomUUID()}`;
      tickets.set(ticket, now);
      return ticket;
    },
    async withdraw(key, ticket) {
      const at = tickets.get(ticket);
      tickets.delete(ticket);
      const list = failures.get(key);
      const i = at === undefined || !list ? -1 : list.indexOf(at);
      if (list && i >= 0) list.splice(i, 1);
    },
    async clear(key) {
      failures.delete(key);
    },
    async sweep(windowSeconds, now) {
      for (const k of [...failures.keys()]) recent(k, windowSeconds, now);
      for (const [t, at] of tickets) if (at <= now - windowSeconds * 1000) tickets.delete(t);
    },
    async close() {},
    size: () => failures.size,
  };
}

/**
 * The deployment-wide counter over the cluster adapter: one sorted set per key in Redis, trimmed to the window
 * and expiring with it. `namespace` keeps sign-in and claim counters apart. It fails closed: when Redis cannot
 * answer, each call throws ERR_CLUSTER_UNAVAILABLE and the sign-in (or claim) is refused.
 */
export function createClusterFailureCounter(cluster: Cluster, namespace: string): FailureCounter {
  const k = (key: string) => `${namespace}:${key}`;
  return {
    count: (key, windowSeconds, now) => cluster.countRecent(k(key), windowSeconds, now),
    add: (key, windowSeconds, now) => cluster.recordEvent(k(key), windowSeconds, now),
    admit: (key, limit, windowSeconds, now) => cluster.admitEvent(k(key), limit, windowSeconds, now),
    withdraw: (key, ticket) => cluster.withdrawEvent(k(key), ticket),
    clear: (key) => cluster.forget(k(key)),
    // Redis keys expire on their own; the memory adapter trims as it grows.
    sweep: async () => {},
    // The adapter belongs to the platform, which closes it.
    close: async () => {},
  };
}

/**
 * One password check under the throttle, its places reserved before any password work. `sourceBlocked`: refuse
 * at once. `accountBlocked`: refuse after the same work as a wrong password. Then exactly one of `failed` (the
 * reservations stay, as the failure) or `succeeded` (the source's place is given back, the account forgiven).
 */
export interface ThrottledAttempt {
  sourceBlocked: boolean;
  accountBlocked: boolean;
  failed(): Promise<void>;
  succeeded(): Promise<void>;
}

/**
 * Counts failed sign-ins per account and per source address in a sliding window. Over either limit, sign-in
 * is refused with the same answer as a wrong password, so a lockout does not reveal that an account exists.
 * Counters live in Redis in cluster mode, so spreading attempts over processes gains nothing; if Redis cannot
 * answer, sign-in is refused (ERR_CLUSTER_UNAVAILABLE), never let through unthrottled.
 */
export class LoginThrottle {
  constructor(
    private readonly clock: Clock,
    private readonly limits: ThrottleLimits,
    private readonly counter: FailureCounter = createMemoryFailureCounter(),
  ) {}

  private now(): number {
    return this.clock.now().getTime();
  }

  /** True when this source has failed too often recently: refuse at once, without touching any account. */
  async sourceBlocked(source: string): Promise<boolean> {
    return (await this.counter.count(`s:${source}`, this.limits.windowSeconds, this.now())) >= this.limits.perSource;
  }

  /** True when this account has failed too often recently. */
  async accountBlocked(account: string): Promise<boolean> {
    return (await this.counter.count(`a:${account}`, this.limits.windowSeconds, this.now())) >= this.limits.perAccount;
  }

  /**
   * Records a failure against the source, and against the account (as typed, even if unknown) unless the
   * source was already blocked: a blocked source must not keep other people's accounts locked.
   */
  async fail(account: string, source: string): Promise<void> {
    const blocked = await this.sourceBlocked(source);
    await this.counter.add(`s:${source}`, this.limits.windowSeconds, this.now());
    if (!blocked) await this.counter.add(`a:${account}`, this.limits.windowSeconds, this.now());
  }

  /**
   * Starts a password check: reserves a place for the source, then (unless the source is blocked, whose attempts
   * must not lock other people's accounts) one for the account, each atomically in the store. N parallel attempts
   * from one source therefore get at most `perSource` places between them, and the others are refused before
   * any password is hashed; an attempt that never reports back counts as a failure.
   */
  async begin(account: string, source: string): Promise<ThrottledAttempt> {
    const { windowSeconds } = this.limits;
    const now = this.now();
    const sourceKey = `s:${source}`;
    const accountKey = `a:${account}`;
    const sourceTicket = await this.counter.admit(sourceKey, this.limits.perSource, windowSeconds, now);
    const accountTicket =
      sourceTicket === null ? null : await this.counter.admit(accountKey, this.limits.perAccount, windowSeconds, now);
    let settled = false;
    const once = async (fn: () => Promise<void>) => {
      if (settled) return;
      settled = true;
      await fn();
    };
    return {
      sourceBlocked: sourceTicket === null,
      accountBlocked: sourceTicket !== null && accountTicket === null,
      failed: () => once(async () => {}),
      succeeded: () =>
        once(async () => {
          if (sourceTicket !== null) await this.counter.withdraw(sourceKey, sourceTicket);
          await this.counter.clear(accountKey);
        }),
    };
  }

  /** Clears the account's failures after a successful sign-in. */
  succeed(account: string): Promise<void> {
    return this.counter.clear(`a:${account}`);
  }

  /** Drops keys with no recent failure (memory store; Redis keys expire by themselves). */
  sweep(): Promise<void> {
    return this.counter.sweep(this.limits.windowSeconds, this.now());
  }

  close(): Promise<void> {
    return this.counter.close();
  }
}
