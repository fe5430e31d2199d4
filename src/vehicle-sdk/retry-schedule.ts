/**
 * When a vehicle renews its command token and reconnects its channel. Thousands of vehicles that connected together
 * (after a gateway restart) must not all come back together: a renewal at a fixed fraction of the token's lifetime
 * and a reconnect after a fixed delay made the whole fleet hit the token endpoint in the same second, and the
 * renewals that queued past the token's expiry closed their channels with 4401 (issue 18). Both are spread at random.
 */

/** The share of a token's lifetime after which a renewal may start, and by which it has started. */
const RENEW_FROM = 0.4;
const RENEW_BY = 0.65;

/** Milliseconds after the token was fetched at which to renew it: uniform in [40 %, 65 %] of its lifetime. */
export function renewalDelayMs(expiresInSeconds: number, random: () => number = Math.random): number {
  const lifetime = Math.max(1, expiresInSeconds) * 1000;
  return Math.round(lifetime * (RENEW_FROM + (RENEW_BY - RENEW_FROM) * random()));
}

/**
 * Milliseconds before reconnect attempt `attempt` (0 for the first after a drop): exponential backoff with full
 * jitter, uniform in [0, min(capMs, baseMs * 2^attempt)], never below 50 ms.
 */
export function reconnectDelayMs(
  attempt: number,
  baseMs: number,
  capMs = 30_000,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.max(50, Math.round(ceiling * random()));
}

/** Milliseconds before retrying a failed renewal: backoff with jitter, but always before the token expires. */
export function renewalRetryMs(attempt: number, remainingMs: number, random: () => number = Math.random): number {
  return Math.max(50, Math.min(reconnectDelayMs(attempt, 1000, 30_000, random), remainingMs / 2));
}

/** The `Retry-After` of a refusal in milliseconds (delta-seconds only, at most 5 minutes), or null when absent. */
export function retryAfterMs(header: string | string[] | undefined): number | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !/^\d{1,6}$/.test(value.trim())) return null;
  return Math.min(300, Number(value.trim())) * 1000;
}

/**
 * How long to wait after a busy gateway (503 with `Retry-After`): uniform in [Retry-After, 2 x Retry-After], so the
 * vehicles it turned away together do not all come back in the same second.
 */
export function busyDelayMs(retryAfter: number, random: () => number = Math.random): number {
  return Math.round(retryAfter * (1 + random()));
}
