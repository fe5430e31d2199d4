import type { Selectable } from 'kysely';
import { canonicalJson } from '../wire/index.js';
import type { StoredAuditEvent } from './event.js';
import { leafHash } from './merkle.js';
import { fromRow } from './store.js';
import type { AuditEventRow } from './tables.js';

/**
 * The leaf entry of an event: the RFC 8785 canonical JSON of the event exactly as the admin API serves it,
 * `seq` included, so anyone holding the served event recomputes its leaf hash without our code.
 */
export function canonicalEvent(event: StoredAuditEvent): string {
  return canonicalJson(event);
}

/** SHA-256(0x00 || canonical event), hex. */
export function eventLeafHash(event: StoredAuditEvent): string {
  return leafHash(Buffer.from(canonicalEvent(event), 'utf8')).toString('hex');
}

/** The leaf hash of a stored row, or null when the row no longer parses (its details were edited into non-JSON). */
export function rowLeafHash(row: Selectable<AuditEventRow>, seq = row.seq): string | null {
  try {
    return eventLeafHash({ ...fromRow(row), seq });
  } catch {
    return null;
  }
}
