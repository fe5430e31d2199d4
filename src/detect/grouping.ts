/** Regrouping: when a new hit updates an existing finding instead of raising a new one. */

/** True when a hit at `at` falls within `regroupMs` after the finding's `lastSeen` (so it updates that finding). */
export function regroups(lastSeen: string, at: string, regroupMs: number): boolean {
  return Date.parse(at) - Date.parse(lastSeen) <= regroupMs;
}
