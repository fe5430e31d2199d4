import { CarapaceError } from '../platform/index.js';
import type { IncidentState } from './tables.js';

/** The states an incident may move to from each state. `closed` from open/triaged only as a false positive. */
export const INCIDENT_TRANSITIONS: Record<IncidentState, readonly IncidentState[]> = {
  open: ['triaged', 'contained', 'closed'],
  triaged: ['contained', 'closed'],
  contained: ['recovered'],
  recovered: ['closed'],
  closed: ['open'],
};

/** How an incident was closed. */
export type Resolution = 'resolved' | 'false_positive';

/**
 * Checks a transition and says how a close resolves: from recovered it is resolved; from open or triaged only a
 * false positive may close. Anything else is refused with ERR_INCIDENT_TRANSITION_REFUSED (409).
 */
export function checkTransition(from: IncidentState, to: IncidentState, resolution?: Resolution): Resolution | null {
  const refuse = (why: string) =>
    new CarapaceError('ERR_INCIDENT_TRANSITION_REFUSED', `an ${from} incident cannot become ${to}: ${why}`, {
      from,
      to,
    });
  if (!INCIDENT_TRANSITIONS[from].includes(to)) throw refuse('not a transition of the lifecycle');
  if (to !== 'closed') {
    if (resolution !== undefined) throw refuse('a resolution is given only when closing');
    return null;
  }
  if (from === 'recovered') {
    if (resolution === 'false_positive') throw refuse('a recovered incident was real; close it as resolved');
    return 'resolved';
  }
  if (resolution !== 'false_positive') throw refuse('only a false positive closes before containment');
  return 'false_positive';
}
