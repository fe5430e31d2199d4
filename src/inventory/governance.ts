import type { AuditActivity } from '../audit/index.js';
import type { InventoryRow } from './inventory.js';
import type { DeprecatedUse } from './usage.js';

/** The eleven governance measures of issue 15 item 4, each computed from live data. */
export const GOVERNANCE_MEASURES = [
  'inventory',
  'authz-matrix',
  'step-up',
  'versions',
  'credential-ages',
  'revocation-timings',
  'deny-events',
  'log-coverage',
  'scoping-times',
  'partner-reviews',
  'abuse-controls',
] as const;
/** One of the eleven measures. */
export type GovernanceMeasure = (typeof GOVERNANCE_MEASURES)[number];

/** One number, Prometheus-shaped: `value` null means "no data yet", and `reason` says why. */
export interface GovernanceMetric {
  measure: GovernanceMeasure;
  name: string;
  help: string;
  labels: Record<string, string>;
  value: number | null;
  reason: string | null;
}

interface Distribution {
  count: number;
  p95Ms: number | null;
}

/** What the numbers are computed from; the composition root reads each module's data through its index. */
export interface GovernanceSources {
  now: Date;
  window: { from: string; to: string };
  inventory: InventoryRow[];
  activity: AuditActivity[];
  /** The last `carapace authz-matrix --report`: its summary and when it was written, or null when there is none. */
  matrix: { summary: { cells: number; unexpected: number; routes: number; routesReached: number }; at: Date } | null;
  matrixFile: string;
  commands: ReadonlyArray<{ name: string; risk: string; stepUp: boolean }>;
  deprecatedUse: DeprecatedUse[];
  certificates: ReadonlyArray<{ profile: string; issuedAt: string }>;
  timeToRevoke: Record<'vehicle' | 'user' | 'partner' | 'service', Distribution>;
  scoping: { count: number; meanMs: number | null };
  partners: ReadonlyArray<{ clientId: string; createdAt: string }>;
}

type Emit = (
  measure: GovernanceMeasure,
  name: string,
  help: string,
  value: number | null,
  reason?: string | null,
  labels?: Record<string, string>,
) => void;

/** Nearest-rank percentile of sorted values. */
function p95(sorted: number[]): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(0.95 * sorted.length) - 1))]!;
}

const UNKNOWN_FIELDS = (r: InventoryRow) =>
  [r.businessOwner, r.privacyImpact, r.financialImpact, r.lastSecurityReview, r.regions].includes('unknown') ||
  r.objects.includes('unknown') ||
  r.knownExceptions === 'unknown';

function inventoryAndVersions(s: GovernanceSources, emit: Emit): void {
  for (const listener of ['public', 'gateway', 'admin']) {
    const rows = s.inventory.filter((r) => r.listener === listener);
    emit('inventory', 'carapace_inventory_routes', 'Routes in the API inventory.', rows.length, null, { listener });
    emit(
      'inventory',
      'carapace_inventory_routes_incomplete',
      'Inventory routes with at least one field the code does not declare (shown as unknown).',
      rows.filter(UNKNOWN_FIELDS).length,
      null,
      { listener },
    );
  }
  const versions = new Map<string, number>();
  for (const r of s.inventory)
    versions.set(`${r.version}|${r.status}`, (versions.get(`${r.version}|${r.status}`) ?? 0) + 1);
  for (const [key, n] of [...versions].sort()) {
    const [version, status] = key.split('|') as [string, string];
    emit('versions', 'carapace_api_version_routes', 'Routes per API version and status.', n, null, { version, status });
  }
  const calls = s.deprecatedUse.reduce((n, u) => n + u.calls, 0);
  emit('versions', 'carapace_api_deprecated_calls', 'Calls of deprecated versions counted (all time).', calls);
  emit(
    'versions',
    'carapace_api_deprecated_clients',
    'Client applications that called a deprecated version (all time).',
    new Set(s.deprecatedUse.map((u) => u.clientId)).size,
  );
}

function matrixAndStepUp(s: GovernanceSources, emit: Emit): void {
  const none = `no data yet: no authorization matrix report at ${s.matrixFile} (carapace authz-matrix --report)`;
  const m = s.matrix;
  const help = 'The last authorization matrix run:';
  emit('authz-matrix', 'carapace_authz_matrix_cells', `${help} cells.`, m?.summary.cells ?? null, m ? null : none);
  emit(
    'authz-matrix',
    'carapace_authz_matrix_unexpected_cells',
    `${help} unexpected cells.`,
    m?.summary.unexpected ?? null,
    m ? null : none,
  );
  emit(
    'authz-matrix',
    'carapace_authz_matrix_route_coverage_ratio',
    `${help} routes reached of routes known.`,
    m && m.summary.routes > 0 ? m.summary.routesReached / m.summary.routes : null,
    m ? null : none,
  );
  emit(
    'authz-matrix',
    'carapace_authz_matrix_report_age_seconds',
    `${help} seconds since its report was written.`,
    m ? Math.max(0, Math.round((s.now.getTime() - m.at.getTime()) / 1000)) : null,
    m ? null : none,
  );
  for (const risk of ['low', 'medium', 'high', 'critical']) {
    const of = s.commands.filter((c) => c.risk === risk);
    emit(
      'step-up',
      'carapace_commands_step_up',
      'Command types that need a recent second factor.',
      of.filter((c) => c.stepUp).length,
      null,
      { risk },
    );
    emit(
      'step-up',
      'carapace_commands_without_step_up',
      'Command types that do not.',
      of.filter((c) => !c.stepUp).length,
      null,
      { risk },
    );
  }
}

function credentialsAndRevocation(s: GovernanceSources, emit: Emit): void {
  for (const profile of ['operational', 'factory', 'operator']) {
    const ages = s.certificates
      .filter((c) => c.profile === profile)
      .map((c) => (s.now.getTime() - Date.parse(c.issuedAt)) / 1000)
      .sort((a, b) => a - b);
    const reason = ages.length === 0 ? `no data yet: no active ${profile} certificate` : null;
    emit(
      'credential-ages',
      'carapace_credential_age_p95_seconds',
      'Age of active certificates (p95).',
      ages.length ? Math.round(p95(ages)!) : null,
      reason,
      { profile },
    );
    emit(
      'credential-ages',
      'carapace_credential_age_max_seconds',
      'Age of the oldest active certificate.',
      ages.length ? Math.round(ages.at(-1)!) : null,
      reason,
      { profile },
    );
  }
  for (const [kind, d] of Object.entries(s.timeToRevoke)) {
    const reason = d.count === 0 ? `no data yet: no ${kind} containment took effect in the window` : null;
    emit(
      'revocation-timings',
      'carapace_time_to_revoke_p95_seconds',
      'Incident open to containment in effect (p95).',
      d.p95Ms === null ? null : d.p95Ms / 1000,
      reason,
      { kind },
    );
  }
}

function trailMeasures(s: GovernanceSources, emit: Emit): void {
  const denies = new Map<string, number>();
  for (const a of s.activity.filter((x) => x.decision === 'deny'))
    denies.set(a.type, (denies.get(a.type) ?? 0) + a.events);
  emit(
    'deny-events',
    'carapace_deny_events',
    'Denied decisions in the audit trail over the window.',
    [...denies.values()].reduce((a, b) => a + b, 0),
    null,
    { type: 'all' },
  );
  for (const [type, n] of [...denies].sort())
    emit('deny-events', 'carapace_deny_events', 'Denied decisions by event type.', n, null, { type });

  const routes = s.inventory.filter((r) => r.authentication.kind !== 'anonymous');
  const actions = new Set(s.activity.map((a) => a.action));
  const covered = routes.filter((r) => actions.has(r.authorization.action)).length;
  emit(
    'log-coverage',
    'carapace_log_coverage_ratio',
    'Authenticated routes whose action appears in the audit trail over the window, of all authenticated routes.',
    s.activity.length === 0 || routes.length === 0 ? null : covered / routes.length,
    s.activity.length === 0 ? 'no data yet: the audit trail has no event in the window' : null,
  );
  emit(
    'scoping-times',
    'carapace_time_to_identify_affected_vehicles_seconds',
    'Incident open to scoping done (mean, incidents opened in the window).',
    s.scoping.meanMs === null ? null : s.scoping.meanMs / 1000,
    s.scoping.count === 0 ? 'no data yet: no incident opened in the window was scoped' : null,
  );
}

function partnersAndAbuse(s: GovernanceSources, emit: Emit): void {
  emit('partner-reviews', 'carapace_partner_applications', 'Registered partner applications.', s.partners.length);
  emit(
    'partner-reviews',
    'carapace_partner_review_age_max_seconds',
    'Longest time since a partner application was last reviewed.',
    null,
    'no data yet: no review date is recorded for partner applications (not built)',
  );
  const ages = s.partners.map((p) => (s.now.getTime() - Date.parse(p.createdAt)) / 1000);
  emit(
    'partner-reviews',
    'carapace_partner_registration_age_max_seconds',
    'Longest time since a partner application was registered (a review is due at least this often).',
    ages.length ? Math.round(Math.max(...ages)) : null,
    ages.length ? null : 'no data yet: no partner application is registered',
  );
  // A sensitive flow moves or unlocks something, or reads restricted data, outside the operators' own plane.
  const sensitive = s.inventory.filter(
    (r) => r.listener !== 'admin' && (r.safetyImpact === 'high' || r.classification === 'restricted'),
  );
  for (const r of sensitive)
    emit(
      'abuse-controls',
      'carapace_abuse_controls',
      'Configured limits on a sensitive flow.',
      r.rateExpectations.length,
      null,
      {
        route: `${r.method} ${r.path}`,
      },
    );
  emit(
    'abuse-controls',
    'carapace_sensitive_flows_without_abuse_control',
    'Sensitive flows with no configured limit.',
    sensitive.filter((r) => r.rateExpectations.length === 0).length,
  );
}

/** The eleven measures as one list, in the order of GOVERNANCE_MEASURES. */
export function governanceMetrics(s: GovernanceSources): GovernanceMetric[] {
  const out: GovernanceMetric[] = [];
  const emit: Emit = (measure, name, help, value, reason = null, labels = {}) =>
    out.push({ measure, name, help, labels, value, reason: value === null ? (reason ?? 'no data yet') : null });
  inventoryAndVersions(s, emit);
  matrixAndStepUp(s, emit);
  credentialsAndRevocation(s, emit);
  trailMeasures(s, emit);
  partnersAndAbuse(s, emit);
  const order = (m: GovernanceMetric) => GOVERNANCE_MEASURES.indexOf(m.measure);
  return out.sort((a, b) => order(a) - order(b));
}
