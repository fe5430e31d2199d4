/**
 * Cluster coordination: the one place where processes of a deployment share state (DESIGN rule 12).
 *
 * A process opens exactly one adapter. In cluster mode (`redis.url` set) it holds two Redis connections,
 * one for commands and one for pub/sub (a subscribed connection can do nothing else), shared by every
 * module; in the embedded mode the same interface is served from memory. Modules never import ioredis.
 * Every key and channel carries `redis.keyPrefix`, and every command has a timeout (`redis.commandTimeoutMs`),
 * so a dead or hung Redis never hangs a request.
 *
 * Failure policy. When Redis cannot answer (down, unreachable, too slow), every primitive throws
 * `ERR_CLUSTER_UNAVAILABLE` (503, with Retry-After): security limits fail closed. The sign-in throttle,
 * the DPoP replay window, the command limits, idempotency reservations and the claim lockout counters
 * refuse the request rather than let it through unchecked, and the adapter logs the failure and reports it
 * to `onUnavailable` (the platform writes an audit event), at most once per operation every ten seconds.
 * The only exceptions are the entries of FAILURE_POLICY_EXCEPTIONS below, each with its justification; a
 * caller opts into one by name, so every exception in the code base is found by searching for that name.
 *
 * Pub/sub never carries security state. A message names what changed (a certificate serial, a device id,
 * a vehicle with queued jobs); the receiver reloads that object from the database, which is the source of
 * truth. Anyone who can PUBLISH on the Redis can make nodes re-read rows, and nothing more.
 */

/**
 * The named exceptions to "fail closed", and why each is safe. Nothing else may degrade when Redis fails.
 */
export const FAILURE_POLICY_EXCEPTIONS = {
  /**
   * Telemetry rate counting falls back to counting in this process. Refusing all telemetry would lose
   * vehicle data for a coordination outage, and letting it through unlimited would remove the limit: per
   * process, the limit still holds (a device reaches at most `processes x limit`), and it is not an
   * authentication or authorization control.
   */
  'telemetry-rate': 'counts in this process',
  /**
   * Announcing a credential change after its commit (a certificate or device change, a token-denylist entry):
   * the change is already durable, so failing the request would only hide it. Every process re-reads
   * revocations, device states and the token denylist every `pki.revocationPollInterval`.
   */
  'credential-fanout': 'logs; the periodic reload applies the change',
  /**
   * Telling other processes that a vehicle has queued jobs: the job is already stored, and the node that holds
   * the vehicle's channel finds it at its next dispatch poll (`commands.dispatchInterval`).
   */
  'job-routing': 'logs; the dispatch poll delivers the job',
  /**
   * Telling other processes that a job changed state, for the clients following it there (server-sent events):
   * the change is committed; each process also re-reads the jobs its clients follow every few seconds.
   */
  'job-feed': 'logs; followers on other processes see the change at their next poll',
  /**
   * Recording which node holds a vehicle's command channel (src/commands/channel-registry.ts): without Redis a
   * channel still opens, and a clone is found only when it reaches the node of the real unit (per-process, as in
   * the embedded mode). Refusing every vehicle's channel for a coordination outage would cut the fleet off.
   */
  'channel-registry': 'logs; clone detection falls back to this process',
} as const;

/** The name of a failure-policy exception. */
export type FailurePolicyException = keyof typeof FAILURE_POLICY_EXCEPTIONS;

/** Options of a primitive that may take a named exception to the failure policy. */
export interface ExceptionOption {
  exception?: FailurePolicyException;
}

/** A fixed-window count: the total in the window after this call, and the milliseconds until it resets. */
export interface WindowCount {
  count: number;
  resetInMs: number;
}

/** One member of a scored window (a sorted set) with its score. */
export interface WindowMember {
  member: string;
  score: number;
}

/** The most members one scored window keeps; adding beyond it drops the lowest scores. */
export const WINDOW_MEMBER_LIMIT = 10_000;

/** The outcome of a reservation: this caller holds it, or someone else does (with the value they stored). */
export type ReservationResult = { reserved: true } | { reserved: false; holder: string | null };

/** What the adapter reports when Redis cannot answer (logged, and audited by the platform). */
export interface UnavailableEvent {
  operation: string;
  exception: FailurePolicyException | null;
  error: string;
}

/** The cluster-coordination adapter: the only door to shared state between the processes of a deployment. */
export interface Cluster {
  /** 'redis' in cluster mode, 'memory' in the embedded mode. */
  readonly kind: 'redis' | 'memory';
  /** The key prefix (also of channels). */
  readonly prefix: string;
  /** Adds `n` to `key`'s fixed window of `windowSeconds` containing `nowMs`; atomic across processes. */
  countWindow(
    key: string,
    n: number,
    windowSeconds: number,
    nowMs: number,
    options?: ExceptionOption,
  ): Promise<WindowCount>;
  /** How many events `key` recorded in the sliding window ending at `nowMs`. */
  countRecent(key: string, windowSeconds: number, nowMs: number): Promise<number>;
  /** Records one event for `key` at `nowMs`, kept for the sliding window. */
  recordEvent(key: string, windowSeconds: number, nowMs: number): Promise<void>;
  /**
   * Reserves a place among `key`'s events in the sliding window ending at `nowMs`, atomically across processes:
   * the event is recorded only while fewer than `limit` are, and the ticket naming it is returned (null when the
   * window is full). Reserving before checking means parallel callers can never all pass a check-then-act gap.
   */
  admitEvent(key: string, limit: number, windowSeconds: number, nowMs: number): Promise<string | null>;
  /** Withdraws the event a ticket from `admitEvent` names (an attempt that turned out not to count). */
  withdrawEvent(key: string, ticket: string): Promise<void>;
  /** Forgets `key` (its events or its counter). */
  forget(key: string): Promise<void>;
  /**
   * Adds `member` at `scoreMs` to the scored window `key`, atomically: drops members scored more than `ttlMs`
   * below `scoreMs` and the lowest beyond WINDOW_MEMBER_LIMIT, and keeps the key `ttlMs` after its last add.
   * Idempotent: re-adding a member changes nothing (its score stays). True when the member is new.
   */
  windowAdd(key: string, member: string, scoreMs: number, ttlMs: number): Promise<boolean>;
  /** The members of `key` scored in [fromMs, toMs], lowest score first, at most `limit` (≤ WINDOW_MEMBER_LIMIT). */
  windowRange(key: string, fromMs: number, toMs: number, limit: number): Promise<WindowMember[]>;
  /** How many members of `key` are scored in [fromMs, toMs] (a count, without reading them). */
  windowCount(key: string, fromMs: number, toMs: number): Promise<number>;
  /** SET NX with a TTL: the first caller reserves `key` with `value`; the others learn the holder's value. */
  reserve(key: string, value: string, ttlSeconds: number): Promise<ReservationResult>;
  /** Frees `key` only if it still holds `value` (a reservation is released by its holder only). */
  release(key: string, value: string): Promise<void>;
  /** Extends `key`'s TTL only while it holds `value`: a lease kept alive by its holder; false when lost. */
  renew(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  /** True the first time `key` is seen within `ttlSeconds` across the deployment; false for a replay. */
  seenOnce(key: string, ttlSeconds: number): Promise<boolean>;
  /** Publishes a message on `channel` to every process (including this one). */
  publish(channel: string, message: string, options?: ExceptionOption): Promise<void>;
  /** Calls `handler` for each message on `channel`. Handlers must treat messages as untrusted hints. */
  subscribe(channel: string, handler: (message: string) => void): Promise<void>;
  /** True when the coordination store answers a PING within the command timeout (always true in memory). */
  ping(): Promise<boolean>;
  /** Calls `handler` each time Redis is reachable again after an outage (never in memory): time to reload. */
  onReconnect(handler: () => void): void;
  /** Closes the connections. */
  close(): Promise<void>;
}
