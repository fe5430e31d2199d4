import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';

/** What one vehicle's units sent in a window: counts, never the rows, and the software it reported. */
export interface TelemetryWindowSummary {
  vehicleId: string;
  accepted: number;
  rejected: number;
  /** Messages per payload kind (accepted and rejected together). */
  kinds: Record<string, number>;
  firstReceivedAt: string | null;
  lastReceivedAt: string | null;
  /** The software version and configuration id of the last message received before the window's end. */
  software: { swVersion: string | null; configId: string | null; reportedAt: string } | null;
  /** Every distinct version and configuration reported in the window (a change inside it shows as two). */
  swVersionsInWindow: string[];
  configIdsInWindow: string[];
}

/**
 * Summarizes the telemetry of some vehicles over `[from, to)` by received time: grouped counts and the software
 * at the time, from the raw store. At most 100 vehicles; an investigation bounds its own list before asking.
 */
export async function summarizeTelemetry(
  db: Kysely<Database>,
  args: { vehicleIds: readonly string[]; from: string; to: string },
): Promise<TelemetryWindowSummary[]> {
  return Promise.all(args.vehicleIds.slice(0, 100).map((vehicleId) => summarizeOne(db, vehicleId, args)));
}

async function summarizeOne(
  db: Kysely<Database>,
  vehicleId: string,
  w: { from: string; to: string },
): Promise<TelemetryWindowSummary> {
  const groups = await db
    .selectFrom('telemetry_messages')
    .select(['verdict', 'kind', 'sw_version', 'config_id'])
    .select((eb) => [eb.fn.countAll<string | number>().as('n'), eb.fn.min('received_at').as('first')])
    .select((eb) => eb.fn.max('received_at').as('last'))
    .where('vehicle_id', '=', vehicleId)
    .where('received_at', '>=', w.from)
    .where('received_at', '<', w.to)
    .groupBy(['verdict', 'kind', 'sw_version', 'config_id'])
    .execute();
  const latest = await db
    .selectFrom('telemetry_messages')
    .select(['sw_version', 'config_id', 'received_at'])
    .where('vehicle_id', '=', vehicleId)
    .where('received_at', '<', w.to)
    .where('verdict', '=', 'accepted')
    .orderBy('received_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  const out: TelemetryWindowSummary = {
    vehicleId,
    accepted: 0,
    rejected: 0,
    kinds: {},
    firstReceivedAt: null,
    lastReceivedAt: null,
    software: latest
      ? { swVersion: latest.sw_version, configId: latest.config_id, reportedAt: latest.received_at }
      : null,
    swVersionsInWindow: distinct(groups.map((g) => g.sw_version)),
    configIdsInWindow: distinct(groups.map((g) => g.config_id)),
  };
  for (const g of groups) {
    const n = Number(g.n);
    if (g.verdict === 'accepted') out.accepted += n;
    else out.rejected += n;
    const kind = g.kind ?? 'unknown';
    out.kinds[kind] = (out.kinds[kind] ?? 0) + n;
    if (g.first && (!out.firstReceivedAt || g.first < out.firstReceivedAt)) out.firstReceivedAt = g.first;
    if (g.last && (!out.lastReceivedAt || g.last > out.lastReceivedAt)) out.lastReceivedAt = g.last;
  }
  return out;
}

const distinct = (values: (string | null)[]) => [...new Set(values.filter((v): v is string => v !== null))].sort();
