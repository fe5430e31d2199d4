import type { Finding } from '../detect/index.js';
import { forgedTelemetry, partnerScraping, type StagedAttack, stolenDeviceKey, stolenOwnerToken } from './attacks.js';
import { adminOf, type DrillTarget, since, until } from './nodes.js';
import { type DrillIdentities, drillIdentities } from './scenario.js';

/** The drills: which attack each playbook is drilled against. */
export const DRILLS = {
  'device-credential-compromise': stolenDeviceKey,
  'account-takeover': stolenOwnerToken,
  'partner-compromise': partnerScraping,
  'telemetry-forgery': forgedTelemetry,
} as const satisfies Record<string, (t: DrillTarget, ids: DrillIdentities) => Promise<StagedAttack>>;

/** A playbook that has a drill. */
export type DrilledPlaybook = keyof typeof DRILLS;

/** The goals of the issue, on this machine: detect within 5 s, contain within 1 s of the decision, scope within 1 s. */
export const DRILL_GOALS = { detectMs: 5000, containMs: 1000, scopeMs: 1000 } as const;

/** What a drill measured and left behind. Times in milliseconds, measured by the drill's own clock. */
export interface DrillReport {
  playbook: DrilledPlaybook;
  runId: string;
  startedAt: string;
  attack: string;
  /** Attack → the first finding naming the attacked asset, as the admin API shows it. */
  detect: { ms: number; findingId: string; ruleId: string; severity: string } | null;
  incident: { id: string; opened: 'automatically' | 'by the drill' } | null;
  /** Decision (the playbook run requested) → the stolen credential refused, per node. */
  contain: { node: string; ms: number | null; refusedBeforeDecision: boolean }[];
  /** The incident's scoping: the server's duration, and the vehicles it found. */
  scope: { ms: number; vehicles: number } | null;
  steps: { stepId: string; action: string; state: string; error: string | null }[];
  goals: typeof DRILL_GOALS;
  passed: boolean;
  /** Why it did not pass, one line each. */
  misses: string[];
}

type Admin = ReturnType<typeof adminOf>;
interface IncidentJson {
  id: string;
  state: string;
  assets: Record<string, string[]>;
  scope: { vehicles: unknown[]; durationMs: number } | null;
}

async function detectFinding(admin: Admin, attack: StagedAttack, from: string, timeoutMs: number) {
  const names = (f: Finding) => f.assets[attack.asset.kind].includes(attack.asset.id);
  return until(async () => {
    const page = await admin<{ findings: Finding[] }>('GET', `/admin/v1/findings?since=${from}&limit=200`);
    return page.findings.find(names) ?? null;
  }, timeoutMs);
}

async function incidentFor(admin: Admin, attack: StagedAttack, finding: Finding | null) {
  const found = await until(async () => {
    const { incidents } = await admin<{ incidents: IncidentJson[] }>('GET', '/admin/v1/incidents?limit=100');
    return (
      incidents.find((i) => i.state !== 'closed' && i.assets[attack.asset.kind]?.includes(attack.asset.id)) ?? null
    );
  }, 3000);
  if (found) return { incident: found, opened: 'automatically' as const };
  const body = finding
    ? { title: `drill: ${attack.description}`, severity: 'high', findingIds: [finding.id] }
    : { title: `drill: ${attack.description}`, severity: 'high', assets: { [attack.asset.kind]: [attack.asset.id] } };
  const opened = await admin<{ incident: IncidentJson }>('POST', '/admin/v1/incidents', body);
  return { incident: opened.incident, opened: 'by the drill' as const };
}

/** Decision → refusal on every node, each polled every 10 ms for up to 10 s. */
async function containment(target: DrillTarget, attack: StagedAttack, decidedAt: number, before: boolean[]) {
  return Promise.all(
    target.nodes.map(async (node, i) => {
      const refused = await until(async () => ((await attack.refusedBy(node)) ? since(decidedAt) : null), 10_000, 10);
      return { node: node.name, ms: refused, refusedBeforeDecision: before[i] ?? false };
    }),
  );
}

function judge(r: Omit<DrillReport, 'passed' | 'misses'>): string[] {
  const misses: string[] = [];
  if (!r.detect) misses.push('no finding named the attacked asset within 30 s');
  else if (r.detect.ms > DRILL_GOALS.detectMs)
    misses.push(`detected in ${r.detect.ms} ms (goal ${DRILL_GOALS.detectMs})`);
  for (const c of r.contain) {
    if (c.ms === null) misses.push(`${c.node} still accepted the stolen credential 10 s after the decision`);
    else if (c.ms > DRILL_GOALS.containMs)
      misses.push(`${c.node} contained in ${c.ms} ms (goal ${DRILL_GOALS.containMs})`);
  }
  if (!r.scope) misses.push('the incident was not scoped');
  else if (r.scope.ms > DRILL_GOALS.scopeMs) misses.push(`scoped in ${r.scope.ms} ms (goal ${DRILL_GOALS.scopeMs})`);
  for (const s of r.steps.filter((s) => s.state === 'failed')) misses.push(`step ${s.stepId} failed: ${s.error ?? ''}`);
  return misses;
}

/**
 * Runs one drill against a running deployment: seeds fresh identities, stages the attack, waits for the finding,
 * finds (or opens) the incident, runs the playbook as an operator, and measures detection, containment on every node
 * and scoping. `seed` loads the generated scenario into the deployment and returns the vehicles' ids.
 */
export async function runDrill(
  target: DrillTarget,
  playbook: DrilledPlaybook,
  seed: (ids: DrillIdentities) => Promise<string[]>,
): Promise<DrillReport> {
  const ids = drillIdentities(3);
  ids.vehicleIds = await seed(ids);
  const admin = adminOf(target, target.nodes[0]!);
  const startedAt = new Date(Date.now() - 1000).toISOString();
  const attack = await DRILLS[playbook](target, ids);
  try {
    const finding = await detectFinding(admin, attack, startedAt, 30_000);
    const detectMs = since(attack.attackedAt);
    const { incident, opened } = await incidentFor(admin, attack, finding);
    const before = await Promise.all(target.nodes.map((n) => attack.refusedBy(n).catch(() => false)));
    const decidedAt = performance.now();
    const run = await admin<{ id: string; steps: DrillReport['steps'] }>(
      'POST',
      `/admin/v1/incidents/${incident.id}/playbooks/${playbook}/runs`,
    );
    const contain = await containment(target, attack, decidedAt, before);
    const scoped = await until(async () => {
      const d = await admin<{ incident: IncidentJson }>('GET', `/admin/v1/incidents/${incident.id}`);
      return d.incident.scope;
    }, 10_000);
    const report = {
      playbook,
      runId: ids.runId,
      startedAt,
      attack: attack.description,
      detect: finding
        ? { ms: detectMs, findingId: finding.id, ruleId: finding.ruleId, severity: finding.severity }
        : null,
      incident: { id: incident.id, opened },
      contain,
      scope: scoped ? { ms: scoped.durationMs, vehicles: scoped.vehicles.length } : null,
      steps: run.steps.map((s) => ({ stepId: s.stepId, action: s.action, state: s.state, error: s.error ?? null })),
      goals: DRILL_GOALS,
    };
    const misses = judge(report);
    return { ...report, passed: misses.length === 0, misses };
  } finally {
    attack.stop();
  }
}

const detected = (r: DrillReport) =>
  r.detect ? ` (${r.detect.ruleId}, ${r.detect.severity}, finding ${r.detect.findingId})` : '';

/** The report for a person: one line per figure, then what missed its goal. */
export function formatDrill(r: DrillReport): string {
  const ms = (v: number | null | undefined) => (v === null || v === undefined ? 'never' : `${v} ms`);
  const lines = [
    `drill ${r.playbook} (run ${r.runId}): ${r.passed ? 'PASSED' : 'MISSED'}`,
    `  attack:   ${r.attack}`,
    `  detect:   ${ms(r.detect?.ms)}${detected(r)} goal ${r.goals.detectMs} ms`,
    `  incident: ${r.incident ? `${r.incident.id}, opened ${r.incident.opened}` : 'none'}`,
    ...r.contain.map(
      (c) =>
        `  contain:  ${c.node} ${ms(c.ms)} after the decision${c.refusedBeforeDecision ? ' (refused before it)' : ''}` +
        ` goal ${r.goals.containMs} ms`,
    ),
    `  scope:    ${r.scope ? `${r.scope.ms} ms, ${r.scope.vehicles} vehicle(s)` : 'not scoped'}` +
      ` goal ${r.goals.scopeMs} ms`,
    ...r.steps.map((s) => `  step:     ${s.stepId} (${s.action}) ${s.state}${s.error ? `: ${s.error}` : ''}`),
    ...r.misses.map((m) => `  MISSED:   ${m}`),
  ];
  return `${lines.join('\n')}\n`;
}
