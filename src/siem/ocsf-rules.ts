/**
 * Which OCSF class and activity each audit event type becomes. Rules are tried in order and the first whose
 * `match` (an exact type, or a prefix ending in '.') fits wins; an event no rule names is API Activity with its
 * activity derived from the action's verb. docs/ocsf.md is the reader's version of this table: keep them equal.
 */

/** The OCSF classes Carapace emits. A later module (detections) adds finding rules through `extraRules`. */
export type OcsfClassName =
  'api_activity' | 'authentication' | 'account_change' | 'entity_management' | 'finding' | 'incident_finding';

/** One mapping rule: audit event type (exact, or prefix ending in '.') to class and activity. */
export interface OcsfRule {
  match: string;
  class: OcsfClassName;
  activityId: number;
}

/** uid, category and caption of each class (OCSF 1.3.0), and the captions of the activities we use. */
export const OCSF_CLASSES: Record<
  OcsfClassName,
  { uid: number; categoryUid: number; category: string; name: string; activities: Record<number, string> }
> = {
  api_activity: {
    uid: 6003,
    categoryUid: 6,
    category: 'Application Activity',
    name: 'API Activity',
    activities: { 0: 'Unknown', 1: 'Create', 2: 'Read', 3: 'Update', 4: 'Delete', 99: 'Other' },
  },
  authentication: {
    uid: 3002,
    categoryUid: 3,
    category: 'Identity & Access Management',
    name: 'Authentication',
    activities: { 1: 'Logon', 2: 'Logoff', 3: 'Authentication Ticket', 99: 'Other' },
  },
  account_change: {
    uid: 3001,
    categoryUid: 3,
    category: 'Identity & Access Management',
    name: 'Account Change',
    activities: { 1: 'Create', 3: 'Password Change', 9: 'Lock', 10: 'MFA Factor Enable', 11: 'MFA Factor Disable' },
  },
  entity_management: {
    uid: 3004,
    categoryUid: 3,
    category: 'Identity & Access Management',
    name: 'Entity Management',
    activities: { 1: 'Create', 3: 'Update', 4: 'Delete', 6: 'Enroll', 11: 'Deactivate', 12: 'Suspend', 13: 'Resume' },
  },
  finding: {
    uid: 2004,
    categoryUid: 2,
    category: 'Findings',
    name: 'Detection Finding',
    activities: { 1: 'Create', 2: 'Update', 3: 'Close' },
  },
  // Incidents (src/incidents): every step of an incident's timeline is an update of one Incident Finding.
  incident_finding: {
    uid: 2005,
    categoryUid: 2,
    category: 'Findings',
    name: 'Incident Finding',
    activities: { 1: 'Create', 2: 'Update', 3: 'Close' },
  },
};

const r = (match: string, cls: OcsfClassName, activityId: number): OcsfRule => ({ match, class: cls, activityId });

/** The built-in rules, most specific first. */
export const OCSF_RULES: readonly OcsfRule[] = [
  // Authentication 3002: sign-ins, token issuance (a ticket, in OCSF's words), revocation as logoff.
  r('auth.login.', 'authentication', 1),
  r('identity.user.password_check_failed', 'authentication', 1),
  r('auth.token.issued', 'authentication', 3),
  r('auth.token.refused', 'authentication', 3),
  r('auth.token.revoked', 'authentication', 2),
  // Account Change 3001: a person's account.
  r('identity.user.created', 'account_change', 1),
  r('identity.user.password_changed', 'account_change', 3),
  r('identity.user.mfa_enrolled', 'account_change', 10),
  r('identity.user.mfa_reset', 'account_change', 11),
  // Entity Management 3004: the platform's managed things (tenants, clients, certificates, devices, keys, grants).
  r('identity.', 'entity_management', 1),
  r('pki.device.enrolled', 'entity_management', 6),
  r('pki.certificate.revoked', 'entity_management', 11),
  r('pki.certificate.', 'entity_management', 3),
  r('pki.device.transitioned', 'entity_management', 3),
  r('pki.device.replaced', 'entity_management', 3),
  r('pki.ca.', 'entity_management', 1),
  r('pki.device.provisioned', 'entity_management', 1),
  r('pki.factory_cert.issued', 'entity_management', 1),
  r('pki.operational_cert.issued', 'entity_management', 1),
  r('pki.operator_cert.issued', 'entity_management', 1),
  r('pki.server_cert.issued', 'entity_management', 1),
  r('auth.signing_key.rotated', 'entity_management', 3),
  r('commands.key.created', 'entity_management', 1),
  r('commands.key.rotated', 'entity_management', 3),
  r('relationships.granted', 'entity_management', 1),
  r('relationships.ended', 'entity_management', 4),
  r('relationships.fleet.create_group', 'entity_management', 1),
  r('relationships.fleet.', 'entity_management', 3),
  r('relationships.vehicle.', 'entity_management', 3),
  r('telemetry.device.quarantined', 'entity_management', 12),
  r('telemetry.quarantine.released', 'entity_management', 13),
  // API Activity 6003 where the verb would mislead: a command request creates a job, a transition updates it.
  r('commands.job.requested', 'api_activity', 1),
  r('commands.job.transitioned', 'api_activity', 3),
  // Detection Finding 2004: the detection engine's findings (docs/detections.md), and the telemetry checks' alerts.
  r('detect.finding.raised', 'finding', 1),
  r('detect.finding.updated', 'finding', 2),
  r('detect.finding.resolved', 'finding', 3),
  r('detect.finding.suppressed', 'finding', 3),
  r('telemetry.alert', 'finding', 1),
  // Incident Finding 2005: an incident opens (Create); every other step updates it (a close is 3 Close, in ocsf.ts).
  r('incidents.opened', 'incident_finding', 1),
  r('incidents.finding_recorded', 'api_activity', 1),
  r('incidents.', 'incident_finding', 2),
];

/** The rule for an event type, or null (then API Activity from the action's verb). */
export function ruleFor(type: string, rules: readonly OcsfRule[]): OcsfRule | null {
  return rules.find((x) => (x.match.endsWith('.') ? type.startsWith(x.match) : type === x.match)) ?? null;
}

const VERBS: [RegExp, number][] = [
  [/(^|[:_.])(read|get|list|view|status|state|search|tail)/, 2],
  [/(^|[:_.])(create|issue|register|request|enroll|invite|open|grant|submit|provision)/, 1],
  [/(^|[:_.])(delete|revoke|remove|end|close|withdraw|unassign)/, 4],
  [/(^|[:_.])(update|rotate|transition|assign|approve|release|replace|ack|claim|transfer|send|execute)/, 3],
];

/** API Activity's activity_id from an action such as `vehicle:unlock` or `pki:revoke`: CRUD by verb, else 99. */
export function apiActivityFor(action: string): number {
  const verb = action.includes(':') ? action.slice(action.indexOf(':') + 1) : action;
  for (const [re, id] of VERBS) if (re.test(verb.toLowerCase())) return id;
  return 99;
}
