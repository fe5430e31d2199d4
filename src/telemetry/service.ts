import type { KeyObject, X509Certificate } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/index.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/log.js';
import type { Pki } from '../pki/index.js';
import type { Database } from '../storage/schema.js';
import { createIngestion, type Ingestion, type TelemetrySettings } from './ingest.js';
import { createQuarantine, type Quarantine } from './quarantine.js';
import { createMemoryRateCounter, createRedisRateCounter } from './rate-limit.js';
import { readVehicleState, type VehicleState } from './vehicle-state.js';
import { WorkerBudget } from './worker-budget.js';

/** The telemetry module's long-lived parts. */
export interface Telemetry {
  settings: TelemetrySettings;
  ingest: Ingestion;
  quarantine: Quarantine;
  budget: WorkerBudget;
  /** The verification key of a device certificate, parsed once per certificate serial. */
  keyFor(serial: string, certificate: X509Certificate): KeyObject;
  /** The last known state of a vehicle (null before its first accepted message). */
  vehicleState(vehicleId: string): Promise<VehicleState | null>;
  close(): Promise<void>;
}

const KEY_CACHE_LIMIT = 50_000;

/** Builds the telemetry module over the platform database. */
export function createTelemetry(deps: { db: Kysely<Database>; audit: AuditLog; clock: Clock; pki: Pick<Pki, 'announce'>; settings: TelemetrySettings; redisUrl: string | null; log: Logger }): Telemetry {
  const rates = deps.redisUrl ? createRedisRateCounter(deps.redisUrl, deps.log) : createMemoryRateCounter();
  const keys = new Map<string, KeyObject>();
  return {
    settings: deps.settings,
    ingest: createIngestion({ db: deps.db, audit: deps.audit, clock: deps.clock, settings: deps.settings, rates }),
    quarantine: createQuarantine({ db: deps.db, audit: deps.audit, clock: deps.clock, pki: deps.pki }),
    budget: new WorkerBudget(deps.settings.maxConcurrentBatches, deps.settings.maxQueuedBatches),
    keyFor(serial, certificate) {
      let key = keys.get(serial);
      if (!key) {
        if (keys.size >= KEY_CACHE_LIMIT) keys.clear();
        key = certificate.publicKey;
        keys.set(serial, key);
      }
      return key;
    },
    vehicleState: (vehicleId) => readVehicleState(deps.db, vehicleId),
    close: () => rates.close(),
  };
}
