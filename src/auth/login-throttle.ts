import type { Clock } from '../platform/clock.js';

/** Limits of failed logins. */
export interface ThrottleLimits {
  perAccount: number;
  perSource: number;
  windowSeconds: number;
}

/**
 * Counts failed logins per account and per source address in a sliding window. Over either limit, logins
 * are refused with the same answer as a wrong password, so a lockout does not reveal that an account exists.
 * Kept in memory (embedded mode); cluster mode keeps the same counters in Redis (planned with rate limits).
 */
export class LoginThrottle {
  private failures = new Map<string, number[]>();

  constructor(private readonly clock: Clock, private readonly limits: ThrottleLimits) {}

  private recent(key: string): number[] {
    const cutoff = this.clock.now().getTime() - this.limits.windowSeconds * 1000;
    const list = (this.failures.get(key) ?? []).filter((t) => t > cutoff);
    if (list.length === 0) this.failures.delete(key);
    else this.failures.set(key, list);
    return list;
  }

  /** True when this source has failed too often recently: refuse at once, without touching any account. */
  sourceBlocked(source: string): boolean {
    return this.recent(`s:${source}`).length >= this.limits.perSource;
  }

  /** True when this account has failed too often recently. */
  accountBlocked(account: string): boolean {
    return this.recent(`a:${account}`).length >= this.limits.perAccount;
  }

  /**
   * Records a failure against the source, and against the account (as typed, even if unknown) unless the
   * source was already blocked: a blocked source must not keep other people's accounts locked.
   */
  fail(account: string, source: string): void {
    const at = this.clock.now().getTime();
    const keys = this.sourceBlocked(source) ? [`s:${source}`] : [`a:${account}`, `s:${source}`];
    for (const key of keys) this.failures.set(key, [...this.recent(key), at]);
    if (this.failures.size > 100_000) this.sweep();
  }

  /** Drops keys with no recent failure; called when the map grows and periodically. */
  sweep(): void {
    for (const key of [...this.failures.keys()]) this.recent(key);
  }

  /** Clears the account's failures after a success. */
  succeed(account: string): void {
    this.failures.delete(`a:${account}`);
  }
}
