import type { Kysely } from 'kysely';
import { CarapaceError, type Clock, type Logger } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { GovernanceMeasure, GovernanceMetric } from './governance.js';

/** One recorded series: a metric's name and labels, with its values over time. */
export interface GovernanceSeries {
  measure: string;
  name: string;
  labels: Record<string, string>;
  points: Array<{ at: string; value: number }>;
}

/** What the history route asks for: one measure (or all), optionally one metric name, over [from, to]. */
export interface HistoryQuery {
  measure?: GovernanceMeasure;
  name?: string;
  from: Date;
  to: Date;
}

/** The governance numbers over time: a snapshot at start and every interval, kept for the retention period. */
export interface GovernanceHistory {
  /** Records one snapshot now (and prunes what is past the retention); returns the rows written. */
  record(): Promise<number>;
  /** Records a snapshot when the newest one in the database (any node's) is at least one interval old. */
  recordIfDue(): Promise<number>;
  /** Records the start snapshot, then checks every minute (or interval, if shorter) whether one is due. */
  start(): Promise<void>;
  stop(): void;
  series(q: HistoryQuery): Promise<{ series: GovernanceSeries[]; truncated: boolean }>;
}

/** The most rows one history answer reads: 30 days of 15-minute snapshots of a few series. */
export const HISTORY_MAX_ROWS = 20_000;

/**
 * Which metrics are kept over time: every one except the unbounded families (one series per route, per deny event
 * type), so a snapshot stays a few dozen rows whatever the deployment's size.
 */
export function recordedOverTime(m: GovernanceMetric): boolean {
  if ('route' in m.labels) return false;
  return !(m.name === 'carapace_deny_events' && m.labels.type !== 'all');
}

/** Labels as stored: JSON with sorted keys, so one series always has one key. */
const labelKey = (labels: Record<string, string>) =>
  JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))));

/** Snapshots of `governance()` in `governance_snapshots`, on the injected clock (tests move it; nothing sleeps). */
export function createGovernanceHistory(deps: {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  governance: () => Promise<{ metrics: GovernanceMetric[] }>;
  intervalSeconds: number;
  retentionSeconds: number;
}): GovernanceHistory {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<number> | null = null;

  const write = async () => {
    const { metrics } = await deps.governance();
    const now = deps.clock.now();
    const at = now.toISOString();
    const rows = metrics
      .filter((m) => m.value !== null && Number.isFinite(m.value) && recordedOverTime(m))
      .map((m) => ({ at, measure: m.measure, name: m.name, labels: labelKey(m.labels), value: m.value! }));
    const cutoff = new Date(now.getTime() - deps.retentionSeconds * 1000).toISOString();
    await deps.db.transaction().execute(async (tx) => {
      // The same name and labels twice in one snapshot cannot happen; two nodes at the same millisecond can.
      for (let i = 0; i < rows.length; i += 200)
        await tx
          .insertInto('governance_snapshots')
          .values(rows.slice(i, i + 200))
          .onConflict((c) => c.doNothing())
          .execute();
      await tx.deleteFrom('governance_snapshots').where('at', '<', cutoff).execute();
    });
    return rows.length;
  };
  // One snapshot at a time per node: a slow one is never overlapped by the next tick.
  const once = (fn: () => Promise<number>) => {
    running ??= fn().finally(() => (running = null));
    return running;
  };
  const due = async () => {
    const newest = await deps.db
      .selectFrom('governance_snapshots')
      .select((eb) => eb.fn.max('at').as('at'))
      .executeTakeFirst();
    const last = newest?.at ? Date.parse(newest.at) : Number.NEGATIVE_INFINITY;
    return deps.clock.now().getTime() - last >= deps.intervalSeconds * 1000;
  };
  const recordIfDue = () => once(async () => ((await due()) ? write() : 0));
  const tick = () =>
    void recordIfDue().catch((err: unknown) => deps.log.warn({ err }, 'governance snapshot failed; next tick retries'));

  return {
    record: () => once(write),
    recordIfDue,
    async start() {
      if (timer) return;
      await once(write).catch((err: unknown) => {
        deps.log.warn({ err }, 'governance snapshot at start failed; the next tick retries');
        return 0;
      });
      timer = setInterval(tick, Math.min(60, deps.intervalSeconds) * 1000);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
    async series(q) {
      if (q.from.getTime() > q.to.getTime())
        throw new CarapaceError('ERR_VALIDATION', '"from" must not be after "to"', { field: 'from' });
      let query = deps.db
        .selectFrom('governance_snapshots')
        .selectAll()
        .where('at', '>=', q.from.toISOString())
        .where('at', '<=', q.to.toISOString());
      if (q.measure) query = query.where('measure', '=', q.measure);
      if (q.name) query = query.where('name', '=', q.name);
      const rows = await query
        .orderBy('at', 'desc')
        .limit(HISTORY_MAX_ROWS + 1)
        .execute();
      const truncated = rows.length > HISTORY_MAX_ROWS;
      const bySeries = new Map<string, GovernanceSeries>();
      // Newest first to keep the newest rows when truncated; each series is then drawn oldest first.
      for (const r of rows.slice(0, HISTORY_MAX_ROWS).reverse()) {
        const key = `${r.name}${r.labels}`;
        const s = bySeries.get(key) ?? {
          measure: r.measure,
          name: r.name,
          labels: JSON.parse(r.labels) as Record<string, string>,
          points: [],
        };
        s.points.push({ at: r.at, value: Number(r.value) });
        bySeries.set(key, s);
      }
      return { series: [...bySeries.values()], truncated };
    },
  };
}
