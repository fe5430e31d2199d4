import { type KeyObject, X509Certificate } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Cluster } from '../cluster/index.js';
import type { Clock } from '../platform/index.js';
import type { Logger } from '../platform/index.js';
import type { TelemetryAuditLog } from './audit-events.js';
import { earlierOperationalCertificates, type Pki } from '../pki/index.js';
import type { Database } from '../storage/index.js';
import { createIngestion, type Ingestion, type TelemetrySettings } from './ingest.js';
import { createQuarantine, type Quarantine } from './quarantine.js';
import { createClusterRateCounter } from './rate-limit.js';
import type { SigningKey } from './screen.js';
import { readVehicleState, type VehicleState } from './vehicle-state.js';
import { WorkerBudget } from './worker-budget.js';
import type { Verdict } from './judge.js';
import { createVolumeSummary, type VolumeSummary } from './volume.js';

/** The telemetry module's long-lived parts. */
export interface Telemetry {
  settings: TelemetrySettings;
  ingest: Ingestion;
  quarantine: Quarantine;
  budget: WorkerBudget;
  /** The per-process count of accepted telemetry, audited as bounded periodic summaries. */
  volume: VolumeSummary;
  /**
   * The keys a device's messages may be signed with: its current certificate's, then its unrevoked earlier
   * certificates' (each good only for messages recorded before it was replaced), so a backlog recorded
   * before a rotation is still accepted. Keys are parsed once per certificate serial.
   */
  keysFor(
    device: { deviceId: string; serial: string; thumbprint: string },
    certificate: X509Certificate,
  ): Promise<SigningKey[]>;
  /** The last known state of a vehicle (null before its first accepted message). */
  vehicleState(vehicleId: string): Promise<VehicleState | null>;
  close(): Promise<void>;
}

const KEY_CACHE_LIMIT = 50_000;

/** Builds the telemetry module over the platform database. */
export function createTelemetry(deps: {
  db: Kysely<Database>;
  audit: TelemetryAuditLog;
  clock: Clock;
  pki: Pick<Pki, 'announce'>;
  settings: TelemetrySettings;
  /** The process's cluster adapter: rate counters are shared through it. */
  cluster: Cluster;
  log: Logger;
  /** Counts each judged message (the observability module's port). */
  metrics?: { verdict(verdict: Verdict['verdict'], reason: string | undefined): void };
}): Telemetry {
  const rates = createClusterRateCounter(deps.cluster);
  const keys = new Map<string, KeyObject>();
  const volume = createVolumeSummary({
    db: deps.db,
    audit: deps.audit,
    clock: deps.clock,
    log: deps.log,
    intervalSeconds: deps.settings.volumeSummaryInterval,
    topDevices: deps.settings.volumeTopDevices,
  });
  const ingest = createIngestion({ db: deps.db, audit: deps.audit, clock: deps.clock, settings: deps.settings, rates });
  return {
    settings: deps.settings,
    volume,
    async ingest(input) {
      const result = await ingest(input);
      volume.record(input.device, result.accepted);
      if (deps.metrics) for (const v of result.verdicts) deps.metrics.verdict(v.verdict, v.reason);
      return result;
    },
    quarantine: createQuarantine({ db: deps.db, audit: deps.audit, clock: deps.clock, pki: deps.pki }),
    budget: new WorkerBudget(deps.settings.maxConcurrentBatches, deps.settings.maxQueuedBatches),
    async keysFor(device, certificate) {
      const cached = (serial: string, parse: () => KeyObject) => {
        let key = keys.get(serial);
        if (!key) {
          if (keys.size >= KEY_CACHE_LIMIT) keys.clear();
          key = parse();
          keys.set(serial, key);
        }
        return key;
      };
      const earlier = await earlierOperationalCertificates(deps.db, {
        deviceId: device.deviceId,
        exceptSerial: device.serial,
        limit: 2,
      });
      return [
        {
          serial: device.serial,
          thumbprint: device.thumbprint,
          key: cached(device.serial, () => certificate.publicKey),
          until: null,
        },
        ...earlier.map((c) => ({
          serial: c.serial,
          thumbprint: c.thumbprint,
          key: cached(c.serial, () => new X509Certificate(c.pem).publicKey),
          until: Date.parse(c.superseded_at ?? c.overlap_until ?? c.not_after),
        })),
      ];
    },
    vehicleState: (vehicleId) => readVehicleState(deps.db, vehicleId),
    async close() {
      await volume.close();
      await rates.close();
    },
  };
}
