import type { Config } from '../config/index.js';
import type { ValidMessage } from './payload-schemas.js';
import { isOdometerDecrease, isOdometerJump, isPositionJump } from './plausibility.js';
import type { ReplayWindow } from './replay-window.js';
import type { RejectReason, Screened } from './screen.js';
import type { StoredVerdict, VehicleStateRow } from './tables.js';
import { applyPayload } from './vehicle-state.js';
import { isOutOfRegion, type RegionBox } from './regions.js';

/** The verdict of one message, as listed in the response. */
export interface Verdict {
  index: number;
  seq: number | null;
  verdict: 'accepted' | 'duplicate' | 'rejected';
  reason?: RejectReason;
  detail?: string;
  flags?: string[];
}

/** A message to store, with its provenance fields. */
export interface ToStore {
  verdict: StoredVerdict;
  reason: RejectReason | null;
  flags: string[];
  message: ValidMessage | null;
  bytes: Buffer;
  sig: string;
  /** The certificate whose key verified the message, when it is not the one on this connection. */
  signer?: { serial: string; thumbprint: string };
}

/** Strikes towards quarantine within the current window. */
export interface Strikes {
  count: number;
  since: string | null;
}

/** What judging a batch decided, for the transaction to write. */
export interface Judgement {
  verdicts: Verdict[];
  stored: ToStore[];
  strikes: Strikes;
  alerts: Array<{ flag: string; seq: number }>;
  vehicleChanged: boolean;
  quarantinedNow: { strikes: number; reasons: string[] } | null;
}

const STRIKE_REASONS: ReadonlySet<RejectReason> = new Set(['bad_signature', 'identity_mismatch']);

/**
 * Judges a screened batch against the device's state, in message order: rate limit, quarantine, replay
 * window, pending time and bound rejections, then stateful plausibility (odometer, position). Mutates the
 * window and the vehicle state row it is given; the caller persists both in the same transaction.
 * A sequence number is judged once: a replay of a message that was rejected after its number entered the
 * window is reported as a duplicate, not rejected and stored again.
 */
export function judgeBatch(input: {
  screened: Screened[];
  total: number;
  window: ReplayWindow;
  vehicle: VehicleStateRow;
  now: number;
  backfill: boolean;
  settings: Config['telemetry'];
  alreadyQuarantined: boolean;
  strikes: Strikes;
  /** The operating regions (`telemetry.regions`); empty: positions are not judged. */
  regions?: readonly RegionBox[];
}): Judgement {
  const { window, vehicle, settings } = input;
  const out: Judgement = {
    verdicts: [],
    stored: [],
    strikes: { ...input.strikes },
    alerts: [],
    vehicleChanged: false,
    quarantinedNow: null,
  };
  let quarantined = input.alreadyQuarantined;
  const strikeReasons = new Set<string>();
  const receivedAt = new Date(input.now).toISOString();

  for (let index = 0; index < input.total; index++) {
    const s = input.screened[index];
    if (!s) {
      out.verdicts.push({ index, seq: null, verdict: 'rejected', reason: 'rate_limited' });
      continue;
    }
    if (quarantined) {
      out.verdicts.push({ index, seq: s.message?.seq ?? null, verdict: 'rejected', reason: 'quarantined' });
      continue;
    }
    if (s.kind === 'rejected') {
      out.verdicts.push({
        index,
        seq: s.message?.seq ?? null,
        verdict: 'rejected',
        reason: s.reason,
        ...(s.detail ? { detail: s.detail } : {}),
      });
      if (s.bytes)
        out.stored.push({
          verdict: 'rejected',
          reason: s.reason,
          flags: [],
          message: s.message,
          bytes: s.bytes,
          sig: s.sig,
        });
      if (STRIKE_REASONS.has(s.reason)) {
        out.strikes = { count: out.strikes.count + 1, since: out.strikes.since ?? receivedAt };
        strikeReasons.add(s.reason);
        if (out.strikes.count >= settings.quarantineThreshold) {
          quarantined = true;
          out.quarantinedNow = { strikes: out.strikes.count, reasons: [...strikeReasons] };
          // Quarantine consumes the strikes: after a release the device starts from a clean count.
          out.strikes = { count: 0, since: null };
        }
      }
      continue;
    }

    const { message } = s;
    const seen = window.accept(message.seq);
    if (seen.kind === 'duplicate') {
      out.verdicts.push({ index, seq: message.seq, verdict: 'duplicate' });
      continue;
    }
    const reject = (reason: RejectReason, detail?: string) => {
      out.verdicts.push({ index, seq: message.seq, verdict: 'rejected', reason, ...(detail ? { detail } : {}) });
      out.stored.push({
        verdict: 'rejected',
        reason,
        flags: [],
        message,
        bytes: s.bytes,
        sig: s.sig,
        signer: s.signer,
      });
    };
    if (seen.kind === 'too_old') {
      reject('sequence_too_old', `more than ${window.size} below the highest sequence number seen`);
      continue;
    }
    if (s.pending) {
      reject(s.pending.reason, s.pending.detail);
      continue;
    }
    // State time is capped at the receive time: a reading dated up to the skew into the future must not
    // outrank the honest readings that arrive after it.
    const at = new Date(Math.min(message.ts, input.now)).toISOString();
    const p = message.payload;
    if (
      p.kind === 'odometer' &&
      vehicle.odometer_km !== null &&
      vehicle.odometer_at !== null &&
      isOdometerDecrease(
        { value: vehicle.odometer_km, at: Date.parse(vehicle.odometer_at) },
        { value: p.km, at: message.ts },
      )
    ) {
      reject('odometer_decreased', `${p.km} km contradicts ${vehicle.odometer_km} km at ${vehicle.odometer_at}`);
      continue;
    }

    const flags: string[] = [];
    // A first message far up the sequence space is a jump too: it would make every honest number "too old".
    if (seen.jump >= settings.sequenceJumpAlert) flags.push('sequence_jump');
    // An odometer that grows faster than the vehicle can drive is flagged and kept out of the state, so one
    // outlier cannot make every later honest reading look like a decrease.
    const odometerJump =
      p.kind === 'odometer' &&
      vehicle.odometer_km !== null &&
      vehicle.odometer_at !== null &&
      isOdometerJump(
        { value: vehicle.odometer_km, at: Date.parse(vehicle.odometer_at) },
        { value: p.km, at: message.ts },
        settings.maxSpeedKmh,
      );
    if (odometerJump) flags.push('odometer_jump');
    if (
      p.kind === 'position' &&
      vehicle.latitude !== null &&
      vehicle.longitude !== null &&
      vehicle.position_at !== null &&
      isPositionJump(
        { value: { lat: vehicle.latitude, lon: vehicle.longitude }, at: Date.parse(vehicle.position_at) },
        { value: { lat: p.lat, lon: p.lon }, at: message.ts },
        settings.maxSpeedKmh,
      )
    ) {
      flags.push('position_jump');
    }
    // A vehicle outside every region it operates in is stolen and shipped, or its position is forged.
    if (p.kind === 'position' && isOutOfRegion(input.regions ?? [], p.lat, p.lon)) flags.push('out_of_region');
    for (const flag of flags) out.alerts.push({ flag, seq: message.seq });
    if (input.backfill) flags.push('backfill');
    out.verdicts.push({ index, seq: message.seq, verdict: 'accepted', ...(flags.length ? { flags } : {}) });
    out.stored.push({
      verdict: 'accepted',
      reason: null,
      flags,
      message,
      bytes: s.bytes,
      sig: s.sig,
      signer: s.signer,
    });
    if (!odometerJump && applyPayload(vehicle, p, at, receivedAt)) out.vehicleChanged = true;
  }
  return out;
}
