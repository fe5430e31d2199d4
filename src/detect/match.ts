/**
 * Reading audit events the way rules name them: field paths, `net(...)`, and match objects. Pure functions.
 */
import type { StoredAuditEvent } from '../audit/index.js';
import type { Condition, Match } from './rule.js';
import { networkOf } from './network.js';

/** The raw value at a dot path of a stored event (undefined when absent). */
export function rawField(event: StoredAuditEvent, path: string): unknown {
  if (path.startsWith('details.')) return event.details[path.slice('details.'.length)];
  let at: unknown = event;
  for (const part of path.split('.')) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/**
 * The values a path (or `net(path)`) contributes, as strings: none for a missing or null field, each element of
 * a `string[]` detail, and the network of each address for `net(...)` (values that are no address are dropped).
 */
export function fieldValues(event: StoredAuditEvent, path: string): string[] {
  const net = /^net\((.+)\)$/.exec(path);
  const raw = rawField(event, net ? (net[1] as string) : path);
  const list = Array.isArray(raw) ? raw : [raw];
  const values = list
    .filter((v): v is string | number | boolean => v !== null && v !== undefined && typeof v !== 'object')
    .map(String);
  if (!net) return values;
  return values.map(networkOf).filter((v): v is string => v !== null);
}

function conditionHolds(event: StoredAuditEvent, c: Condition): boolean {
  const raw = rawField(event, c.field);
  const present = raw !== null && raw !== undefined;
  const values = Array.isArray(raw) ? (raw as unknown[]) : [raw];
  switch (c.op) {
    case 'exists':
      return present;
    case 'absent':
      return !present;
    case 'eq':
      return present && values.some((v) => v === c.value);
    case 'ne':
      return !values.some((v) => v === c.value);
    case 'in':
      return present && values.some((v) => (c.value as unknown[]).includes(v));
    case 'prefix':
      return values.some((v) => typeof v === 'string' && typeof c.value === 'string' && v.startsWith(c.value));
  }
}

/** True when the type pattern (exact, or a prefix ending in `.*`) matches the event type. */
export function typeMatches(pattern: string, type: string): boolean {
  return pattern.endsWith('.*') ? type.startsWith(pattern.slice(0, -1)) : pattern === type;
}

/** True when every condition present in the match object holds for the event. */
export function matches(m: Match, event: StoredAuditEvent): boolean {
  if (m.types && !m.types.some((p) => typeMatches(p, event.type))) return false;
  if (m.decisions && !m.decisions.includes(event.decision)) return false;
  if (m.reasons && (event.reason === null || !m.reasons.includes(event.reason))) return false;
  return (m.where ?? []).every((c) => conditionHolds(event, c));
}

/** True when a rule asks for the detection module's own events (a meta-rule): one of its types names `detect.`. */
export function readsFindings(m: Match): boolean {
  return (m.types ?? []).some((t) => t.startsWith('detect.'));
}
