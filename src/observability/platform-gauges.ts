import type { DecisionMetricsPort, Metrics } from './metrics.js';

/** A decision point as far as counting goes: it answers allow or deny, with the engine's errors. */
interface Decides<Q> {
  decide(q: Q): { decision: 'allow' | 'deny'; errors: readonly string[] };
}

/** The same decision point, counting every decision by outcome (an engine error is a deny, counted as `error`). */
export function countDecisions<Q, P extends Decides<Q>>(point: P, port: DecisionMetricsPort): P {
  return {
    ...point,
    decide(q: Q) {
      const d = point.decide(q);
      port.decision(d.errors.length > 0 ? 'error' : d.decision);
      return d;
    },
  };
}

/** Gauges read at each scrape: how fresh the revocation view is, and whether the database and Redis answer. */
export function healthGauges(
  metrics: Pick<Metrics, 'gauge'>,
  read: { revocationViewAgeMs(): number; databaseUp(): Promise<boolean>; redisUp: (() => Promise<boolean>) | null },
): void {
  metrics.gauge(
    'carapace_revocation_view_age_seconds',
    'Seconds since this node last refreshed its revocation view.',
    () => read.revocationViewAgeMs() / 1000,
  );
  metrics.gauge('carapace_database_up', 'Whether the database answered a ping (1) or not (0).', async () =>
    (await read.databaseUp()) ? 1 : 0,
  );
  const redisUp = read.redisUp;
  if (redisUp)
    metrics.gauge('carapace_redis_up', 'Whether Redis answered a ping (1) or not (0).', async () =>
      (await redisUp()) ? 1 : 0,
    );
}
