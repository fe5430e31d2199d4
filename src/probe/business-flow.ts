import { expectedAccess, MATRIX_ROUTES, type MatrixRoute } from '../authz-matrix/index.js';
import { type CheckReport, Tally } from './report.js';
import { codeOf, observed, reachedHandler, type ProbeSession } from './session.js';

const COMMAND_ROUTE = MATRIX_ROUTES.find((r) => r.action === 'vehicle:command') as MatrixRoute;
/** Commands the catalog marks step-up: a recent second factor is needed whoever sends them. */
const STEP_UP_COMMANDS = ['unlock', 'remote_start'];

/**
 * Business-flow guardrails: a person who signed in with a password only must not get a step-up command (unlock)
 * past the step-up guardrail, even on a vehicle they may command; a driver invitation is single-use and works
 * only for its invitee; a revoked delegation stops working at once.
 */
export async function businessFlow(s: ProbeSession): Promise<CheckReport> {
  const t = new Tally('business-flow');
  await stepUp(s, t);
  await singleUseInvite(s, t);
  return t.report();
}

async function stepUp(s: ProbeSession, t: Tally): Promise<void> {
  const delegated = new Map<string, Set<string>>();
  for (const r of s.target.scenario.relationships ?? [])
    if (r.kind === 'delegation' && r.user && r.vehicle)
      for (const c of r.commands ?? [])
        delegated.set(`${r.user}|${r.vehicle}`, (delegated.get(`${r.user}|${r.vehicle}`) ?? new Set()).add(c));
  let sent = 0;
  for (const p of s.world.personas.values()) {
    if (p.kind !== 'person' || p.mfa) continue;
    for (const [vehicle, vid] of s.ids.vehicles) {
      const mayCommand = expectedAccess(s.world, p.key, COMMAND_ROUTE, vehicle).allowed;
      const commands = STEP_UP_COMMANDS.filter((c) => mayCommand || delegated.get(`${p.key}|${vehicle}`)?.has(c));
      for (const command of commands) {
        // The probe's unknown query parameter: a guardrail that holds answers 401 step-up; one that does not lets
        // the request through to validation (400), and nothing is sent to the vehicle either way.
        const path = `/v1/vehicles/${vid}/commands?carapace-probe=1`;
        const res = await s.caller(p.key).api('POST', path, { command });
        sent++;
        t.record(!reachedHandler(res), {
          attack: `${command} by a password-only sign-in`,
          persona: p.key,
          request: `POST ${path} (${vehicle})`,
          expected: '401 ERR_STEP_UP_REQUIRED',
          observed: observed(res),
        });
      }
    }
  }
  if (!sent) t.skip('step-up: no password-only persona may command or was delegated a step-up command');
}

async function singleUseInvite(s: ProbeSession, t: Tally): Promise<void> {
  const w = s.world;
  const found = w.vehicles.map((v) => [v, w.owner(v)] as const).find(([v, o]) => o && s.ids.vehicles.has(v));
  const [vehicle, owner] = found ?? [];
  const strangers = [...w.personas.values()].filter(
    (p) => p.kind === 'person' && p.key !== owner && !w.delegations.some((d) => d.driver === p.key),
  );
  const [invitee, intruder] = strangers;
  if (!vehicle || !owner || !invitee || !intruder) {
    t.skip('single-use invite: the scenario needs an owner and two people with no delegation');
    return;
  }
  const vid = s.ids.vehicles.get(vehicle) as string;
  const made = await s.caller(owner).api('POST', `/v1/vehicles/${vid}/delegations`, {
    email: invitee.email,
    commands: ['lock'],
    validUntil: new Date(Date.now() + 3_600_000).toISOString(),
  });
  const inv = made.json as { invite?: { id: string }; code?: string } | null;
  if (made.status >= 300 || !inv?.invite || !inv.code) {
    t.skip(`single-use invite: ${owner} could not invite (${observed(made)})`);
    return;
  }
  const accept = `/v1/delegation-invites/${inv.invite.id}/accept`;
  const stolen = await s.caller(intruder.key).api('POST', accept, { code: inv.code });
  t.record(stolen.status >= 400, {
    attack: "accepting someone else's invitation with its code",
    persona: intruder.key,
    request: `POST ${accept}`,
    expected: '404',
    observed: observed(stolen),
  });
  const first = await s.caller(invitee.key).api('POST', accept, { code: inv.code });
  const delegation = (first.json as { id?: string } | null)?.id;
  if (first.status >= 300 || !delegation) {
    t.skip(`single-use invite: the invitee's own acceptance answered ${observed(first)}`);
    return;
  }
  const again = await s.caller(invitee.key).api('POST', accept, { code: inv.code });
  t.record(again.status >= 400, {
    attack: 'accepting an invitation a second time',
    persona: invitee.key,
    request: `POST ${accept}`,
    expected: '404 or 422',
    observed: observed(again),
  });
  // Clean up what the attack made, and check the revocation holds on the next request.
  const revoked = await s
    .caller(owner)
    .api('POST', `/v1/delegations/${delegation}/revoke`, { reason: 'probe: cleanup' });
  if (revoked.status >= 300) {
    t.skip(`single-use invite: the probe's delegation ${delegation} could not be revoked (${observed(revoked)})`);
    return;
  }
  const after = await s.caller(invitee.key).api('GET', `/v1/vehicles/${vid}`);
  t.record(after.status === 404 && codeOf(after) === 'ERR_NOT_FOUND', {
    attack: 'a revoked delegation still reads the vehicle',
    persona: invitee.key,
    request: `GET /v1/vehicles/${vid} (${vehicle})`,
    expected: '404 ERR_NOT_FOUND',
    observed: observed(after),
  });
}
