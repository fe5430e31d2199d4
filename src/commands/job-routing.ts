import { parseTraceparent } from '../platform/index.js';

/** The pub/sub channel that tells the node holding a vehicle's channel that a job was queued for it. */
export const JOB_ROUTING_CHANNEL = 'commands:dispatch';
const VEHICLE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A routing message: the vehicle, and (optionally) the job that was queued with the W3C trace context of its span. */
export interface RoutedMessage {
  vehicleId: string;
  trace: { jobId: string; traceparent: string } | null;
}

/**
 * A routing message only names a vehicle that has queued jobs; the node holding its channel reads the jobs from
 * the database and checks each one again before it signs anything, so a forged message can trigger a read and
 * nothing more. It may carry the trace context of the job it announces: that only names the parent of the
 * dispatch span (observability), never anything a decision reads. Anything else (another shape, extra fields,
 * an envelope) is ignored.
 */
export function routedVehicle(message: string): RoutedMessage | null {
  try {
    const m = JSON.parse(message) as unknown;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return null;
    const { v, vehicleId, jobId, traceparent, ...rest } = m as Record<string, unknown>;
    if (v !== 1 || typeof vehicleId !== 'string' || !VEHICLE_ID.test(vehicleId) || Object.keys(rest).length > 0)
      return null;
    if (jobId === undefined && traceparent === undefined) return { vehicleId, trace: null };
    if (typeof jobId !== 'string' || !VEHICLE_ID.test(jobId) || typeof traceparent !== 'string') return null;
    if (!parseTraceparent(traceparent)) return null;
    return { vehicleId, trace: { jobId, traceparent } };
  } catch {
    return null;
  }
}

/** The routing message for a vehicle, with the job's trace context when there is one. */
export function routingMessage(vehicleId: string, trace?: { jobId: string; traceparent: string }): string {
  return JSON.stringify(
    trace ? { v: 1, vehicleId, jobId: trace.jobId, traceparent: trace.traceparent } : { v: 1, vehicleId },
  );
}
