/** The attack classes the probe runs, in the order it runs them (state-changing ones last). */
export const PROBE_CHECKS = [
  'crawl',
  'token-forgery',
  'dpop-replay',
  'enumeration',
  'bola',
  'bfla',
  'mass-assignment',
  'business-flow',
  'rate-limit',
] as const;

/** One attack class. */
export type ProbeCheck = (typeof PROBE_CHECKS)[number];

/** An attack that got an answer the product rules forbid. */
export interface Finding {
  check: ProbeCheck;
  attack: string;
  /** Who attacked (a scenario persona), or `anonymous`. */
  persona: string;
  /** `METHOD path` as sent (object ids included, tokens never). */
  request: string;
  expected: string;
  observed: string;
}

/** What one attack class did. */
export interface CheckReport {
  check: ProbeCheck;
  attacks: number;
  findings: Finding[];
  /** Attacks the target could not be set up for (a persona or object the scenario lacks), named, never passed. */
  skipped: string[];
}

/** The whole run: what CI reads. */
export interface ProbeReport {
  target: string;
  checks: CheckReport[];
  summary: { attacks: number; findings: number; skipped: number; checks: number };
}

/** Collects the attacks of one check and the findings among them. */
export class Tally {
  readonly findings: Finding[] = [];
  readonly skipped: string[] = [];
  attacks = 0;

  constructor(readonly check: ProbeCheck) {}

  /** Records one attack; `held` says whether the target answered as the product rules require. */
  record(held: boolean, f: Omit<Finding, 'check'>): void {
    this.attacks++;
    if (!held) this.findings.push({ check: this.check, ...f });
  }

  /** Records an attack that could not be run against this target. */
  skip(why: string): void {
    this.skipped.push(why);
  }

  /** The check's report. */
  report(): CheckReport {
    return { check: this.check, attacks: this.attacks, findings: this.findings, skipped: this.skipped };
  }
}

/** Totals over the checks. */
export function summarize(target: string, checks: CheckReport[]): ProbeReport {
  return {
    target,
    checks,
    summary: {
      attacks: checks.reduce((n, c) => n + c.attacks, 0),
      findings: checks.reduce((n, c) => n + c.findings.length, 0),
      skipped: checks.reduce((n, c) => n + c.skipped.length, 0),
      checks: checks.length,
    },
  };
}

/** The human report: one line per check, then every finding, then the totals. */
export function formatProbeReport(report: ProbeReport): string {
  const lines = [`carapace probe against ${report.target}`];
  for (const c of report.checks)
    lines.push(
      `  ${c.check.padEnd(16)} ${String(c.attacks).padStart(5)} attacks  ${c.findings.length} finding(s)` +
        (c.skipped.length ? `  ${c.skipped.length} skipped` : ''),
    );
  for (const c of report.checks) for (const s of c.skipped) lines.push(`SKIPPED ${c.check}: ${s}`);
  for (const c of report.checks)
    for (const f of c.findings)
      lines.push(
        `FINDING ${f.check} | ${f.attack} | ${f.persona} ${f.request}: expected ${f.expected}, got ${f.observed}`,
      );
  const s = report.summary;
  lines.push(`probe: checks=${s.checks} attacks=${s.attacks} findings=${s.findings} skipped=${s.skipped}`);
  return `${lines.join('\n')}\n`;
}
