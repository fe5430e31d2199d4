/**
 * The outbound layer's worker budget: calls in flight per host and in all, each with a bounded queue (cockatiel
 * bulkheads). It is the layer's own, apart from the API's: a destination that hangs holds at most its host's
 * share, and all of them together at most `concurrency` sockets; the next call beyond the queues fails at once.
 */
import { bulkhead, BulkheadRejectedError, type BulkheadPolicy } from 'cockatiel';
import { CarapaceError } from '../platform/index.js';

/** The limits of the budget (`outbound.concurrency`, `queue`, `hostConcurrency`, `hostQueue`). */
export interface BudgetLimits {
  concurrency: number;
  queue: number;
  hostConcurrency: number;
  hostQueue: number;
}

/** Runs calls within the budget. */
export interface Budget {
  /** Runs `call` once a slot for `host` and one overall are free; throws ERR_OUTBOUND_BUSY past the queues. */
  run<T>(host: string, call: () => Promise<T>): Promise<T>;
  /** Calls in flight now (for tests and status). */
  inFlight(): number;
}

function busy(scope: 'host' | 'all', host: string): CarapaceError {
  return new CarapaceError('ERR_OUTBOUND_BUSY', `the outbound layer is at its concurrency limit (${scope})`, {
    reason: scope === 'host' ? 'host_busy' : 'budget_busy',
    host,
  });
}

/** Creates the budget. Per-host bulkheads are dropped when idle, so many hosts do not pile up. */
export function createBudget(limits: BudgetLimits): Budget {
  const all = bulkhead(limits.concurrency, limits.queue);
  const hosts = new Map<string, { policy: BulkheadPolicy; users: number }>();

  const withHost = async <T>(host: string, call: () => Promise<T>): Promise<T> => {
    const entry = hosts.get(host) ?? { policy: bulkhead(limits.hostConcurrency, limits.hostQueue), users: 0 };
    hosts.set(host, entry);
    entry.users += 1;
    try {
      return await entry.policy.execute(call);
    } catch (err) {
      if (err instanceof BulkheadRejectedError) throw busy('host', host);
      throw err;
    } finally {
      entry.users -= 1;
      if (entry.users === 0) hosts.delete(host);
    }
  };

  return {
    run: (host, call) =>
      withHost(host, async () => {
        try {
          return await all.execute(call);
        } catch (err) {
          if (err instanceof BulkheadRejectedError) throw busy('all', host);
          throw err;
        }
      }),
    inFlight: () => limits.concurrency - all.executionSlots,
  };
}
