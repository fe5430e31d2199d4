import type { Kysely } from 'kysely';
import type { RequestContext } from '../audit/index.js';
import type { Clock } from '../platform/index.js';
import { CarapaceError } from '../platform/index.js';
import { newId } from '../platform/index.js';
import type { TelemetryAuditLog } from './audit-events.js';
import { findDevice, deviceStatuses, type Pki, transitionDevice } from '../pki/index.js';
import type { Database } from '../storage/index.js';

/**
 * Quarantines a device inside the ingestion transaction: the device's lifecycle state becomes
 * `quarantined` (the one quarantine of the platform: the gateway then refuses all its requests, telemetry
 * and commands alike, and its connections are closed once the caller announces the change), the quarantine
 * is recorded with its strike count, and audited.
 */
export async function recordQuarantine(
  trx: Kysely<Database>,
  audit: TelemetryAuditLog,
  args: {
    device: { deviceId: string; vehicleId: string; serial: string; thumbprint: string };
    strikes: number;
    reasons: string[];
    at: Date;
    context: RequestContext;
  },
): Promise<void> {
  const reason = `telemetry: ${args.strikes} ${args.reasons.join(' or ')} within the quarantine window`;
  const current = await findDevice(trx, args.device.deviceId);
  if (current?.status === 'active') {
    await transitionDevice(trx, audit, {
      deviceId: args.device.deviceId,
      to: 'quarantined',
      reason,
      actor: { type: 'system', id: null },
      at: args.at,
      context: args.context,
    });
  }
  await trx
    .insertInto('telemetry_quarantines')
    .values({
      id: newId(),
      device_id: args.device.deviceId,
      vehicle_id: args.device.vehicleId,
      quarantined_at: args.at.toISOString(),
      reason,
      strikes: args.strikes,
      released_at: null,
      released_by: null,
      release_reason: null,
    })
    .execute();
  await audit.append(trx, {
    type: 'telemetry.device.quarantined',
    actor: { type: 'system', id: null },
    object: { type: 'device', id: args.device.deviceId },
    action: 'telemetry:quarantine',
    decision: 'deny',
    reason: args.reasons.join(','),
    context: args.context,
    details: {
      vehicleId: args.device.vehicleId,
      strikes: args.strikes,
      serial: args.device.serial,
      thumbprint: args.device.thumbprint,
    },
  });
}

/** A telemetry quarantine as listed on the admin plane. */
export interface QuarantineView {
  id: string;
  deviceId: string;
  vehicleId: string;
  quarantinedAt: string;
  reason: string;
  strikes: number;
  releasedAt: string | null;
  releasedBy: string | null;
  releaseReason: string | null;
}

/**
 * Quarantine checks and release. `isQuarantined` is the check other modules call (the commands module must
 * refuse to queue or deliver commands to a quarantined device): it reads the device's lifecycle state in
 * the database, so it holds across processes, whoever imposed the quarantine.
 */
export function createQuarantine(deps: {
  db: Kysely<Database>;
  audit: TelemetryAuditLog;
  clock: Clock;
  pki: Pick<Pki, 'announce'>;
}) {
  return {
    /** True when the device is quarantined (by telemetry or by an operator). */
    async isQuarantined(deviceId: string): Promise<boolean> {
      return (await findDevice(deps.db, deviceId))?.status === 'quarantined';
    },

    /** Quarantines recorded by telemetry, newest first; `open` limits them to devices still quarantined. */
    async list(options: { open?: boolean; deviceId?: string; limit?: number } = {}): Promise<QuarantineView[]> {
      const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
      let q = deps.db.selectFrom('telemetry_quarantines').selectAll();
      if (options.open) q = q.where('released_at', 'is', null);
      if (options.deviceId) q = q.where('device_id', '=', options.deviceId);
      // Open records are few (one per quarantined device); they are read whole, then kept only while the device
      // is still quarantined (an operator may have released it through the PKI since).
      let rows = await q
        .orderBy('quarantined_at', 'desc')
        .$if(!options.open, (qb) => qb.limit(limit))
        .execute();
      if (options.open) {
        const status = await deviceStatuses(deps.db, [...new Set(rows.map((r) => r.device_id))]);
        rows = rows.filter((r) => status.get(r.device_id) === 'quarantined').slice(0, limit);
      }
      return rows.map((r) => ({
        id: r.id,
        deviceId: r.device_id,
        vehicleId: r.vehicle_id,
        quarantinedAt: r.quarantined_at,
        reason: r.reason,
        strikes: r.strikes,
        releasedAt: r.released_at,
        releasedBy: r.released_by,
        releaseReason: r.release_reason,
      }));
    },

    /**
     * Quarantines a device on an operator's decision (an incident playbook): the device becomes `quarantined`
     * unless it already is (or has been revoked since, which refuses it anyway), a quarantine record is kept with
     * the reason, and other processes are told, so its connections close everywhere. Idempotent.
     */
    async impose(args: {
      deviceId: string;
      actor: { type: 'operator'; id: string };
      reason: string;
      context: RequestContext | null;
    }): Promise<{ deviceId: string; status: string; changed: boolean }> {
      const at = deps.clock.now();
      const reason = args.reason.slice(0, 500);
      const out = await deps.db.transaction().execute(async (trx) => {
        const device = await findDevice(trx, args.deviceId);
        if (!device) throw new CarapaceError('ERR_PKI_DEVICE_NOT_FOUND', 'no such device', { deviceId: args.deviceId });
        const open = await trx
          .selectFrom('telemetry_quarantines')
          .select('id')
          .where('device_id', '=', device.id)
          .where('released_at', 'is', null)
          .executeTakeFirst();
        let status = device.status;
        if (device.status === 'active') {
          await transitionDevice(trx, deps.audit, {
            deviceId: device.id,
            to: 'quarantined',
            reason,
            actor: args.actor,
            at,
            context: args.context,
          });
          status = 'quarantined';
        }
        if (open && status === device.status) return { deviceId: device.id, status, changed: false };
        await trx
          .insertInto('telemetry_quarantines')
          .values({
            id: newId(),
            device_id: device.id,
            vehicle_id: device.vehicle_id,
            quarantined_at: at.toISOString(),
            reason,
            strikes: 0,
            released_at: null,
            released_by: null,
            release_reason: null,
          })
          .execute();
        await deps.audit.append(trx, {
          type: 'telemetry.device.quarantined',
          actor: args.actor,
          object: { type: 'device', id: device.id },
          action: 'telemetry:quarantine',
          decision: 'deny',
          reason,
          context: args.context,
          details: { vehicleId: device.vehicle_id, strikes: 0, deviceStatus: status },
        });
        return { deviceId: device.id, status, changed: true };
      });
      if (out.changed) await deps.pki.announce([{ kind: 'device-status', deviceId: out.deviceId, status: out.status }]);
      return out;
    },

    /**
     * Releases a quarantined device (a security admin's decision): back to active, open quarantine records
     * closed, strike count cleared, all in one transaction with its audit events; then other processes
     * are told. Refused (409) unless the device is quarantined.
     */
    async release(args: {
      deviceId: string;
      actor: { type: 'operator'; id: string };
      reason: string;
      context: RequestContext | null;
    }): Promise<{ deviceId: string; status: string }> {
      const at = deps.clock.now();
      try {
        const device = await deps.db.transaction().execute(async (trx) => {
          const { device } = await transitionDevice(trx, deps.audit, {
            deviceId: args.deviceId,
            to: 'active',
            reason: args.reason,
            actor: args.actor,
            at,
            context: args.context,
          });
          await trx
            .updateTable('telemetry_quarantines')
            .set({ released_at: at.toISOString(), released_by: args.actor.id, release_reason: args.reason })
            .where('device_id', '=', args.deviceId)
            .where('released_at', 'is', null)
            .execute();
          await trx
            .updateTable('telemetry_devices')
            .set((eb) => ({
              strikes: 0,
              strikes_since: null,
              version: eb('version', '+', 1),
              updated_at: at.toISOString(),
            }))
            .where('device_id', '=', args.deviceId)
            .execute();
          await deps.audit.append(trx, {
            type: 'telemetry.quarantine.released',
            actor: args.actor,
            object: { type: 'device', id: args.deviceId },
            action: 'telemetry:release',
            decision: 'allow',
            reason: args.reason,
            context: args.context,
            details: { vehicleId: device.vehicle_id },
          });
          return device;
        });
        await deps.pki.announce([{ kind: 'device-status', deviceId: device.id, status: 'active' }]);
        return { deviceId: device.id, status: device.status };
      } catch (err) {
        if (err instanceof CarapaceError) {
          await deps.audit.append(deps.db, {
            type: 'telemetry.quarantine.release_refused',
            actor: args.actor,
            object: { type: 'device', id: args.deviceId },
            action: 'telemetry:release',
            decision: 'deny',
            reason: err.code,
            context: args.context,
          });
        }
        throw err;
      }
    },
  };
}

/** The quarantine service. */
export type Quarantine = ReturnType<typeof createQuarantine>;
