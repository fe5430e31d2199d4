/**
 * One circuit breaker per endpoint (cockatiel's consecutive breaker): after `failures` failures in a row calls fail
 * at once, after `cooldown` one trial call goes through (half-open), its success closes the breaker and its failure
 * opens it again. Every transition is logged; opening from closed and closing are also audited, because they are
 * what an operator investigates (an endpoint stopped receiving, or started again). The re-openings after failed
 * trials are logged only: a hostile endpoint would otherwise write two audit events per cooldown, forever.
 * cockatiel reads the wall clock (Date.now) for the cooldown and has no clock option.
 */
import {
  BrokenCircuitError,
  circuitBreaker,
  CircuitState,
  ConsecutiveBreaker,
  handleWhen,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import { CarapaceError, type Logger } from '../platform/index.js';

/** The state of one breaker, as `Outbound.breakers()` reports it. */
export interface BreakerState {
  key: string;
  state: 'closed' | 'open' | 'half-open';
  /** Consecutive failures counted since the last success. */
  failures: number;
}

/** A transition worth an audit event. */
export type BreakerTransition = { key: string; to: 'opened' | 'closed'; failures: number };

/** The breakers of the layer, created on first use per key. */
export interface Breakers {
  /** Runs `call` behind the key's breaker; throws ERR_OUTBOUND_CIRCUIT_OPEN when it is open. */
  run<T extends { status: number }>(key: string, call: () => Promise<T>): Promise<T>;
  states(): BreakerState[];
}

/** Codes that count as the endpoint failing (ours: a refused or busy call says nothing about the endpoint). */
const ENDPOINT_FAILURES = new Set(['ERR_OUTBOUND_TIMEOUT', 'ERR_OUTBOUND_TOO_LARGE', 'ERR_OUTBOUND_FAILED']);

const isEndpointFailure = (err: Error) => err instanceof CarapaceError && ENDPOINT_FAILURES.has(err.code);
/** A server error is the endpoint failing too; a 4xx or 3xx is an answer. */
const isFailedAnswer = (r: unknown) =>
  (r as { status?: number }).status !== undefined && (r as { status: number }).status >= 500;

const STATE_NAMES: Record<CircuitState, BreakerState['state']> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'open',
};

/** Creates the per-endpoint breakers; `onTransition` audits openings and closings. */
export function createBreakers(deps: {
  failures: number;
  cooldownMs: number;
  log: Logger;
  onTransition(t: BreakerTransition): void;
}): Breakers {
  const entries = new Map<string, { policy: CircuitBreakerPolicy; failures: number; opened: boolean }>();

  const entryOf = (key: string) => {
    const existing = entries.get(key);
    if (existing) return existing;
    const policy = circuitBreaker(handleWhen(isEndpointFailure).orWhenResult(isFailedAnswer), {
      halfOpenAfter: deps.cooldownMs,
      breaker: new ConsecutiveBreaker(deps.failures),
    });
    const entry = { policy, failures: 0, opened: false };
    policy.onFailure((e) => {
      if (e.handled) entry.failures += 1;
    });
    policy.onSuccess(() => (entry.failures = 0));
    policy.onStateChange((state) => {
      deps.log.info({ breaker: key, state: STATE_NAMES[state], failures: entry.failures }, 'outbound breaker');
      if (state === CircuitState.Open && !entry.opened) {
        entry.opened = true;
        deps.onTransition({ key, to: 'opened', failures: entry.failures });
      } else if (state === CircuitState.Closed && entry.opened) {
        entry.opened = false;
        deps.onTransition({ key, to: 'closed', failures: entry.failures });
        entry.failures = 0;
      }
    });
    entries.set(key, entry);
    return entry;
  };

  return {
    async run(key, call) {
      const { policy } = entryOf(key);
      try {
        return await policy.execute(call);
      } catch (err) {
        if (err instanceof BrokenCircuitError)
          throw new CarapaceError('ERR_OUTBOUND_CIRCUIT_OPEN', "the destination's circuit breaker is open", {
            reason: 'circuit_open',
            breaker: key,
          });
        throw err;
      }
    },
    states: () => [...entries].map(([key, e]) => ({ key, state: STATE_NAMES[e.policy.state], failures: e.failures })),
  };
}
