import { type AdminObject, type AdminProbe, ADMIN_PROBES } from './admin-routes.js';
import {
  ADMIN_RULES,
  APPROVE_CLIENT_REVOCATION,
  type AdminOutcome,
  type AdminRole,
  adminOutcome,
  DEVICE_RELEASE,
  DEVICE_RETIRE,
} from './admin-rules.js';

/** One way into the admin plane: a role-bound certificate, or a signed-in person's session (elevated or not). */
export interface AdminCaller {
  name: string;
  kind: 'person' | 'certificate';
  roles: readonly AdminRole[];
  /** A certificate's bound role is a standing grant: it counts as elevated. */
  elevated: boolean;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }>;
}

/** Real objects for the probes: a fresh throwaway one when an allowed probe may change it, else a shared one. */
export interface AdminFixtures {
  object(kind: AdminObject, fresh: boolean): Promise<string>;
}

/** One admin-plane cell. `unreached` means the probe never showed the decision (a 400 or 404 where allow was due). */
export interface AdminCell {
  caller: string;
  route: string;
  action: string;
  expected: AdminOutcome;
  observed: AdminOutcome | 'unreached';
  status: number;
  unexpected: boolean;
  unreached: boolean;
  /** The problem's detail when the answer was not a success (why a cell was unreached). */
  detail?: string;
}

/** The admin matrix's report. */
export interface AdminMatrixReport {
  cells: AdminCell[];
  summary: { cells: number; allowed: number; refused: number; unexpected: number; unreached: number };
}

const REFUSALS = new Set(['elevation-required', 'approval-required', 'forbidden']);
const KINDS = /\{([A-Za-z]+)\}/g;

/** What the admin plane answered, in the oracle's words; neither a success nor a refusal is unreached. */
function outcomeOf(res: { status: number; json: unknown }): AdminOutcome | 'unreached' {
  if (res.status >= 200 && res.status < 300) return 'allowed';
  const type =
    String((res.json as { type?: unknown } | null)?.type ?? '')
      .split(':')
      .pop() ?? '';
  return res.status === 403 && REFUSALS.has(type) ? (type as AdminOutcome) : 'unreached';
}

/** The expected outcome of a probe for a caller, from the hand-written product rules. */
export function expectedOf(probe: AdminProbe, caller: Pick<AdminCaller, 'roles' | 'elevated'>): AdminOutcome {
  const rule = probe.release
    ? DEVICE_RELEASE
    : probe.retire
      ? DEVICE_RETIRE
      : probe.approver
        ? APPROVE_CLIENT_REVOCATION
        : ADMIN_RULES[probe.action];
  return adminOutcome(rule, caller.roles, caller.elevated);
}

/** Fills `{kind}` placeholders of a path and a body with real objects. */
async function materialize(probe: AdminProbe, fixtures: AdminFixtures, fresh: boolean) {
  const text = `${probe.send} ${probe.body === undefined ? '' : JSON.stringify(probe.body)}`;
  const ids = new Map<string, string>();
  for (const [, kind] of text.matchAll(KINDS))
    if (!ids.has(kind as string)) ids.set(kind as string, await fixtures.object(kind as AdminObject, fresh));
  const fill = (s: string) => s.replace(KINDS, (_, k: string) => ids.get(k) ?? '');
  const body = probe.body === undefined ? undefined : (JSON.parse(fill(JSON.stringify(probe.body))) as unknown);
  return { path: fill(probe.send), body };
}

/** Runs one cell: the probe with real objects, judged against the product rules. */
async function runCell(caller: AdminCaller, probe: AdminProbe, fixtures: AdminFixtures): Promise<AdminCell> {
  const expected = expectedOf(probe, caller);
  const { path, body } = await materialize(probe, fixtures, probe.method === 'POST' && expected === 'allowed');
  const res = await caller.call(probe.method, path, body);
  const observed = outcomeOf(res);
  const unreached = observed === 'unreached' && expected === 'allowed';
  return {
    caller: caller.name,
    route: `${probe.method} ${probe.path}${probe.release ? ' (release)' : probe.retire ? ' (retire)' : ''}`,
    action: probe.action,
    expected,
    observed,
    status: res.status,
    unexpected: !unreached && observed !== expected,
    unreached,
    ...(observed === 'allowed' ? {} : { detail: String((res.json as { detail?: unknown } | null)?.detail ?? '') }),
  };
}

/**
 * Runs every admin probe for every caller (callers side by side, each one's probes in order, the self-changing
 * ones last) and reports each cell. Allowed state changes act on the fresh objects the fixtures make.
 */
export async function runAdminMatrix(
  callers: readonly AdminCaller[],
  fixtures: AdminFixtures,
  probes: readonly AdminProbe[] = ADMIN_PROBES,
): Promise<AdminMatrixReport> {
  const ordered = [...probes].sort((a, b) => (a.last ?? 0) - (b.last ?? 0));
  const perCaller = await Promise.all(
    callers.map(async (caller) => {
      const out: AdminCell[] = [];
      for (const probe of ordered) out.push(await runCell(caller, probe, fixtures));
      return out;
    }),
  );
  const cells = perCaller.flat();
  return {
    cells,
    summary: {
      cells: cells.length,
      allowed: cells.filter((c) => c.observed === 'allowed').length,
      refused: cells.filter((c) => c.observed !== 'allowed' && c.observed !== 'unreached').length,
      unexpected: cells.filter((c) => c.unexpected).length,
      unreached: cells.filter((c) => c.unreached).length,
    },
  };
}

/** The admin matrix's last line, as CI and reviewers read it. */
export function adminSummaryLine(report: AdminMatrixReport): string {
  const s = report.summary;
  return (
    `authz-matrix admin: cells=${s.cells} allowed=${s.allowed} refused=${s.refused} ` +
    `unexpected=${s.unexpected} unreached=${s.unreached}`
  );
}
