import { bfla } from './bfla.js';
import { bola } from './bola.js';
import { businessFlow } from './business-flow.js';
import { crawl } from './crawl.js';
import { dpopReplay } from './dpop-replay.js';
import { enumeration } from './enumeration.js';
import { massAssignment } from './mass-assignment.js';
import { rateLimit } from './rate-limit.js';
import { type CheckReport, PROBE_CHECKS, type ProbeCheck, type ProbeReport, summarize } from './report.js';
import { ProbeSession, type ProbeTarget } from './session.js';
import { tokenForgery } from './token-forgery.js';

const CHECKS: Record<ProbeCheck, (s: ProbeSession) => Promise<CheckReport>> = {
  crawl,
  'token-forgery': tokenForgery,
  'dpop-replay': dpopReplay,
  enumeration,
  bola,
  bfla,
  'mass-assignment': massAssignment,
  'business-flow': businessFlow,
  'rate-limit': rateLimit,
};

/** What to run. */
export interface ProbeOptions {
  target: ProbeTarget;
  /** The checks to run (default: all, in PROBE_CHECKS order). */
  only?: readonly ProbeCheck[];
  log?: (line: string) => void;
}

/**
 * Runs the self-attack suite against a deployment seeded with the target's scenario. It signs the personas in,
 * attacks, and reports every answer the product rules forbid. It changes a little state (an invitation accepted
 * and revoked, rate-limit counters spent): run it against staging, never production. Throws ProbeUnavailable
 * when the target cannot be attacked at all.
 */
export async function runProbe(options: ProbeOptions): Promise<ProbeReport> {
  const only = new Set(options.only ?? PROBE_CHECKS);
  const session = await ProbeSession.open(options.target);
  try {
    const reports: CheckReport[] = [];
    for (const check of PROBE_CHECKS) {
      if (!only.has(check)) continue;
      const r = await CHECKS[check](session);
      options.log?.(`${check}: ${r.attacks} attacks, ${r.findings.length} finding(s)`);
      reports.push(r);
    }
    return summarize(options.target.baseUrl, reports);
  } finally {
    session.close();
  }
}
