import type { Kysely } from 'kysely';
import type { Clock, Logger } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { TelemetryAuditLog } from './audit-events.js';
import type { BatchDevice } from './ingest.js';

/** Devices counted individually per interval; beyond this a flood of identities only adds to the total. */
const TRACKED_DEVICES = 100_000;

/** Counts accepted telemetry in memory and audits a bounded summary per interval. */
export interface VolumeSummary {
  /** Counts a batch's accepted messages: a map update, no I/O, on the ingest path. */
  record(device: BatchDevice, accepted: number): void;
  /** Audits what was counted since the last flush (nothing when nothing was accepted) and starts over. */
  flush(): Promise<void>;
  /** Stops the timer and flushes what is left. */
  close(): Promise<void>;
}

/**
 * The telemetry volume the detections read. Accepted messages are far too many to audit one by one, so each
 * process counts them per device in memory and writes, every interval in which it accepted any, one
 * `telemetry.volume.summary` (messages, devices, the busiest device ids) and one `telemetry.volume.device` for
 * each of its `topDevices` busiest devices. At most 1 + topDevices events per process and interval, whatever
 * the load; counts of a process that dies before its flush are lost (they are a signal, not the record: the
 * messages themselves are stored).
 */
export function createVolumeSummary(deps: {
  db: Kysely<Database>;
  audit: TelemetryAuditLog;
  clock: Clock;
  log: Logger;
  intervalSeconds: number;
  topDevices: number;
}): VolumeSummary {
  let counts = new Map<string, { vehicleId: string; serial: string; messages: number }>();
  let total = 0;
  let since = deps.clock.now().toISOString();

  async function flush(): Promise<void> {
    const [taken, messages, from] = [counts, total, since];
    counts = new Map();
    total = 0;
    since = deps.clock.now().toISOString();
    if (messages === 0) return;
    const top = [...taken.entries()].sort((a, b) => b[1].messages - a[1].messages).slice(0, deps.topDevices);
    const common = { decision: 'info' as const, action: 'telemetry:ingest' };
    await deps.db.transaction().execute(async (trx) => {
      await deps.audit.append(trx, {
        type: 'telemetry.volume.summary',
        ...common,
        actor: { type: 'system', id: null },
        object: { type: 'deployment', id: null },
        details: {
          messages,
          devices: taken.size,
          since: from,
          intervalSeconds: deps.intervalSeconds,
          topDevices: top.map(([id]) => id),
        },
      });
      for (const [deviceId, c] of top)
        await deps.audit.append(trx, {
          type: 'telemetry.volume.device',
          ...common,
          actor: { type: 'device', id: deviceId },
          object: { type: 'vehicle', id: c.vehicleId },
          details: { messages: c.messages, serial: c.serial, since: from, intervalSeconds: deps.intervalSeconds },
        });
    });
  }

  const flushLogged = () =>
    flush().catch((err: unknown) => deps.log.error({ err }, 'could not audit telemetry volume'));
  const timer = deps.intervalSeconds > 0 ? setInterval(() => void flushLogged(), deps.intervalSeconds * 1000) : null;
  timer?.unref();

  return {
    record(device, accepted) {
      if (deps.intervalSeconds === 0 || accepted <= 0) return;
      total += accepted;
      const known = counts.get(device.deviceId);
      if (known) known.messages += accepted;
      else if (counts.size < TRACKED_DEVICES)
        counts.set(device.deviceId, { vehicleId: device.vehicleId, serial: device.serial, messages: accepted });
    },
    flush,
    async close() {
      if (timer) clearInterval(timer);
      await flushLogged();
    },
  };
}
