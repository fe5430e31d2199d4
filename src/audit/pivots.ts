import type { AuditEvent, DetailValue } from './event.js';

/**
 * Pivots an investigation can start from that live in an event's object or details rather than in a column of
 * its own. The audit store writes one `audit_pivots` row per (kind, value) of each event, in the event's
 * transaction, so "every event naming this token / certificate / vehicle / job / device" is one index range.
 */
export const DETAIL_PIVOTS = ['jti', 'serial', 'thumbprint', 'vehicle', 'device', 'job'] as const;
/** A pivot kind kept in the side table. */
export type DetailPivot = (typeof DETAIL_PIVOTS)[number];

/** Which detail keys name which pivot: the names the writers use today (grep `details:` in the modules). */
const DETAIL_KEYS: Record<string, DetailPivot> = {
  jti: 'jti',
  serial: 'serial',
  factoryCertSerial: 'serial',
  previousSerial: 'serial',
  successorSerial: 'serial',
  revokedSerials: 'serial',
  retiredUnusedSerials: 'serial',
  thumbprint: 'thumbprint',
  vehicleId: 'vehicle',
  deviceId: 'device',
  oldDeviceId: 'device',
  newDeviceId: 'device',
  jobId: 'job',
};

/** Object types (audit writers' and Cedar's spellings) that name a pivot. */
const OBJECT_KINDS: Record<string, DetailPivot> = {
  vehicle: 'vehicle',
  device: 'device',
  commandjob: 'job',
  certificate: 'serial',
  accesstoken: 'jti',
};

const MAX_VALUE = 200;

function add(out: Map<string, { kind: DetailPivot; value: string }>, kind: DetailPivot, value: DetailValue): void {
  const values = Array.isArray(value) ? value : [value];
  for (const v of values)
    if (typeof v === 'string' && v.length > 0 && v.length <= MAX_VALUE)
      out.set(`${kind}\u0000${v}`, { kind, value: v });
}

/** The side-table pivots of one event, deduplicated; a value too long to be an id is not indexed. */
export function pivotsOf(
  event: Pick<AuditEvent, 'actor' | 'object' | 'details'>,
): { kind: DetailPivot; value: string }[] {
  const out = new Map<string, { kind: DetailPivot; value: string }>();
  const objectKind = event.object ? OBJECT_KINDS[event.object.type.toLowerCase().replaceAll('_', '')] : undefined;
  if (objectKind && event.object?.id) add(out, objectKind, event.object.id);
  // A device acting is the device's own trail, like a device named as the object.
  if (event.actor.type === 'device' && event.actor.id) add(out, 'device', event.actor.id);
  for (const [key, value] of Object.entries(event.details ?? {})) {
    const kind = DETAIL_KEYS[key];
    if (kind) add(out, kind, value);
  }
  return [...out.values()];
}
