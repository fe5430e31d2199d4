import { type Kysely, PostgresAdapter } from 'kysely';
import type { RequestContext } from '../audit/index.js';
import { parseRegions } from './regions.js';
import type { TelemetryAuditLog } from './audit-events.js';
import type { Config } from '../config/index.js';
import type { Clock } from '../platform/index.js';
import { newId } from '../platform/index.js';
import { findDevice } from '../pki/index.js';
import { isUniqueViolation } from '../storage/index.js';
import type { Database } from '../storage/index.js';
import { judgeBatch, type Verdict } from './judge.js';
import type { RateCounter } from './rate-limit.js';
import { ReplayWindow } from './replay-window.js';
import { type Screened, screenMessage, type SigningKey } from './screen.js';
import { discreteChange, emptyStateRow } from './vehicle-state.js';
import { recordQuarantine } from './quarantine.js';

/** The telemetry settings (the `telemetry` configuration section). */
export type TelemetrySettings = Config['telemetry'];

/** The authenticated presenter of a batch: device, vehicle and certificate. */
export interface BatchDevice {
  deviceId: string;
  vehicleId: string;
  serial: string;
  thumbprint: string;
}

/** What the gateway answers for a batch. */
export interface BatchResult {
  batchId: string;
  accepted: number;
  duplicates: number;
  rejected: number;
  verdicts: Verdict[];
  /** True when this batch tipped the device into quarantine. */
  quarantined: boolean;
}

/** Raised when another process updated the device's window between our read and our write. */
class ConcurrentBatch extends Error {}

const SCREEN_SLICE = 64;
// 500 rows x 20 columns stays under the bind-parameter limits of SQLite (32766) and PostgreSQL (65535).
const INSERT_CHUNK = 500;
const ATTEMPTS = 4;

/** Lets other requests run between slices of signature verification (CPU work on the event loop). */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Ingests one batch: rate limits, then screening of every message (signature, schema, identity, time)
 * outside any transaction, then one transaction that applies the device's replay window, plausibility and
 * quarantine rules, stores accepted and rejected messages with their provenance, updates the vehicle state
 * and writes one audit event per batch for its rejections and alerts. The answer is sent only after that
 * transaction commits, so an acknowledged message is durable.
 */
export function createIngestion(deps: {
  db: Kysely<Database>;
  audit: TelemetryAuditLog;
  clock: Clock;
  settings: TelemetrySettings;
  rates: RateCounter;
}) {
  const s = deps.settings;
  const regions = parseRegions(s.regions);
  const pg = deps.db.getExecutor().adapter instanceof PostgresAdapter;
  // Rate-limit denials are audited once per device and rate window, not once per batch: a device that
  // keeps flooding must not turn the audit trail into the flood's mirror.
  const rateAudited = new Map<string, number>();

  return async function ingest(input: {
    device: BatchDevice;
    keys: SigningKey[];
    messages: unknown[];
    backfill: boolean;
    context: RequestContext;
  }): Promise<BatchResult> {
    const { device } = input;
    const now = deps.clock.now().getTime();
    const windowMs = s.rateWindow * 1000;
    const deviceGrant = await deps.rates.take(
      `device:${device.deviceId}`,
      input.messages.length,
      s.deviceRate,
      s.rateWindow,
      now,
    );
    const granted = await deps.rates.take('fleet', deviceGrant, s.fleetRate, s.rateWindow, now);

    const screened: Screened[] = [];
    const ctx = {
      deviceId: device.deviceId,
      vehicleId: device.vehicleId,
      keys: input.keys,
      now,
      backfill: input.backfill,
      maxMessageBytes: s.maxMessageBytes,
      maxSkewMs: s.maxSkew * 1000,
      backfillMaxAgeMs: s.backfillMaxAge * 1000,
      maxSpeedKmh: s.maxSpeedKmh,
    };
    for (let i = 0; i < granted; i++) {
      if (i > 0 && i % SCREEN_SLICE === 0) await yieldToEventLoop();
      screened.push(screenMessage(input.messages[i], ctx));
    }

    const batchId = newId();
    const receivedAt = new Date(now).toISOString();
    const rateSlot = Math.floor(now / windowMs);
    const auditRateLimit = granted < input.messages.length && rateAudited.get(device.deviceId) !== rateSlot;
    if (granted === 0 && !auditRateLimit) {
      // A device that keeps flooding past its limit costs no database work at all.
      const verdicts = input.messages.map((_, index) => ({
        index,
        seq: null,
        verdict: 'rejected' as const,
        reason: 'rate_limited' as const,
      }));
      return { batchId, accepted: 0, duplicates: 0, rejected: verdicts.length, verdicts, quarantined: false };
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await deps.db.transaction().execute(async (trx) => {
          await trx
            .insertInto('telemetry_devices')
            .values({
              device_id: device.deviceId,
              window_top: 0,
              window_bitmap: null,
              strikes: 0,
              strikes_since: null,
              version: 0,
              updated_at: receivedAt,
            })
            .onConflict((oc) => oc.column('device_id').doNothing())
            .execute();
          const state = await trx
            .selectFrom('telemetry_devices')
            .selectAll()
            .where('device_id', '=', device.deviceId)
            .$if(pg, (q) => q.forUpdate())
            .executeTakeFirstOrThrow();
          const status = await findDevice(trx, device.deviceId);
          const vehicle = await trx
            .selectFrom('vehicle_state')
            .selectAll()
            .where('vehicle_id', '=', device.vehicleId)
            .$if(pg, (q) => q.forUpdate())
            .executeTakeFirst();
          const vehicleRow = vehicle ?? emptyStateRow(device.vehicleId, receivedAt);
          const stateBefore = { ...vehicleRow };
          const window = ReplayWindow.restore(s.replayWindow, state.window_top, state.window_bitmap);

          const judged = judgeBatch({
            screened,
            total: input.messages.length,
            window,
            vehicle: vehicleRow,
            now,
            backfill: input.backfill,
            settings: s,
            alreadyQuarantined: status?.status === 'quarantined',
            regions,
            strikes:
              state.strikes_since !== null && now - Date.parse(state.strikes_since) <= s.quarantineWindow * 1000
                ? { count: state.strikes, since: state.strikes_since }
                : { count: 0, since: null },
          });

          const rows = judged.stored.map((m) => ({
            id: newId(),
            batch_id: batchId,
            device_id: device.deviceId,
            vehicle_id: device.vehicleId,
            seq: m.message?.seq ?? null,
            boot_id: m.message?.bootId ?? null,
            message_ts: m.message ? new Date(m.message.ts).toISOString() : null,
            kind: m.message?.payload.kind ?? null,
            sw_version: m.message?.swVersion ?? null,
            config_id: m.message?.configId ?? null,
            cert_serial: m.signer?.serial ?? device.serial,
            cert_thumbprint: m.signer?.thumbprint ?? device.thumbprint,
            received_at: receivedAt,
            verdict: m.verdict,
            reason: m.reason,
            flags: m.flags.join(','),
            backfill: input.backfill ? 1 : 0,
            signed_bytes: m.bytes,
            signature: m.sig,
          }));
          for (let i = 0; i < rows.length; i += INSERT_CHUNK)
            await trx
              .insertInto('telemetry_messages')
              .values(rows.slice(i, i + INSERT_CHUNK))
              .execute();

          const updated = await trx
            .updateTable('telemetry_devices')
            .set({
              window_top: window.top,
              window_bitmap: window.serialize(),
              strikes: judged.strikes.count,
              strikes_since: judged.strikes.since,
              version: state.version + 1,
              updated_at: receivedAt,
            })
            .where('device_id', '=', device.deviceId)
            .where('version', '=', state.version)
            .executeTakeFirst();
          if (Number(updated.numUpdatedRows) !== 1) throw new ConcurrentBatch();

          if (judged.vehicleChanged) {
            if (vehicle)
              await trx
                .updateTable('vehicle_state')
                .set(vehicleRow)
                .where('vehicle_id', '=', device.vehicleId)
                .execute();
            else await trx.insertInto('vehicle_state').values(vehicleRow).execute();
            const change = discreteChange(stateBefore, vehicleRow);
            // In the batch's transaction: webhook subscribers read state changes from the trail (src/webhooks).
            if (change)
              await deps.audit.append(trx, {
                type: 'telemetry.vehicle.state_changed',
                actor: { type: 'device', id: device.deviceId },
                object: { type: 'vehicle', id: device.vehicleId },
                action: 'telemetry:ingest',
                decision: 'info',
                reason: change.fields.join(','),
                context: input.context,
                details: { batchId, ...change },
              });
          }

          const counts = tally(judged.verdicts);
          const reasons = Object.entries(counts.reasons)
            .filter(([r]) => r !== 'rate_limited' || auditRateLimit)
            .map(([r, n]) => `${r}:${n}`);
          if (reasons.length > 0) {
            await deps.audit.append(trx, {
              type: 'telemetry.batch.rejected',
              actor: { type: 'device', id: device.deviceId },
              object: { type: 'vehicle', id: device.vehicleId },
              action: input.backfill ? 'telemetry:backfill' : 'telemetry:ingest',
              decision: 'deny',
              reason: reasons.map((r) => r.split(':')[0]).join(','),
              context: input.context,
              details: {
                batchId,
                messages: input.messages.length,
                accepted: counts.accepted,
                rejected: counts.rejected,
                reasons,
                rejectedSeqs: judged.verdicts
                  .filter((v) => v.verdict === 'rejected' && v.seq !== null)
                  .slice(0, 20)
                  .map((v) => String(v.seq)),
                serial: device.serial,
                thumbprint: device.thumbprint,
              },
            });
          }
          if (judged.alerts.length > 0) {
            await deps.audit.append(trx, {
              type: 'telemetry.alert',
              actor: { type: 'device', id: device.deviceId },
              object: { type: 'vehicle', id: device.vehicleId },
              action: 'telemetry:ingest',
              decision: 'info',
              reason: [...new Set(judged.alerts.map((a) => a.flag))].join(','),
              context: input.context,
              details: {
                batchId,
                alerts: judged.alerts.slice(0, 20).map((a) => `${a.flag}:seq=${a.seq}`),
                // Each flag once, so a rule can match one flag whatever else the batch raised.
                flags: [...new Set(judged.alerts.map((a) => a.flag))],
              },
            });
          }
          if (judged.quarantinedNow) {
            await recordQuarantine(trx, deps.audit, {
              device,
              strikes: judged.quarantinedNow.strikes,
              reasons: judged.quarantinedNow.reasons,
              at: new Date(now),
              context: input.context,
            });
          }
          return {
            batchId,
            accepted: counts.accepted,
            duplicates: counts.duplicates,
            rejected: counts.rejected,
            verdicts: judged.verdicts,
            quarantined: judged.quarantinedNow !== null,
          };
        });
        if (auditRateLimit) rateAudited.set(device.deviceId, rateSlot);
        if (rateAudited.size > 100_000) rateAudited.clear();
        return result;
      } catch (err) {
        // Two processes ingesting for one device: the loser starts again from the winner's window, so a
        // sequence number raced by both is accepted once and reported as a duplicate to the other.
        const raced = err instanceof ConcurrentBatch || isUniqueViolation(err) || isLockConflict(err);
        if (!raced || attempt >= ATTEMPTS) throw err;
      }
    }
  };
}

/** The ingestion function. */
export type Ingestion = ReturnType<typeof createIngestion>;

/** A lock or serialization conflict the database asks us to retry (SQLite busy, PostgreSQL 40001/40P01). */
function isLockConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code === '40001' || code === '40P01');
}

function tally(verdicts: Verdict[]) {
  const reasons: Record<string, number> = {};
  let accepted = 0;
  let duplicates = 0;
  let rejected = 0;
  for (const v of verdicts) {
    if (v.verdict === 'accepted') accepted++;
    else if (v.verdict === 'duplicate') duplicates++;
    else {
      rejected++;
      if (v.reason) reasons[v.reason] = (reasons[v.reason] ?? 0) + 1;
    }
  }
  return { accepted, duplicates, rejected, reasons };
}
