import { type Cell, PROBE, routeKey } from './cells.js';
import { type Expectation, expectInvitationAccept, expectInvite, GRANTED_BY } from './oracle.js';
import type { MatrixRoute } from './routes.js';
import type { Caller } from './sessions.js';
import type { World } from './world.js';

/** Every role an invitation can name, so each cell reaches the granting-role rule for that role. */
export const INVITE_ROLES = Object.keys(GRANTED_BY);

/** The address the per-role invite cells name: nobody's, so no cell can ever be an invitation someone uses. */
const PROBE_INVITEE = 'matrix-probe@example.invalid';

/** A cell from its expectation and the answer; `observed` is the probe's "allowed" or the status. */
function cellOf(
  phase: string,
  persona: string,
  route: MatrixRoute,
  object: string,
  exp: Expectation,
  observed: Cell['observed'],
  again: () => Expectation,
): Cell {
  const unexpected = observed !== exp.status && observed !== again().status;
  return {
    phase,
    persona,
    action: route.action,
    route: routeKey(route),
    object,
    expected: exp.status,
    observed,
    relations: exp.relations,
    unexpected,
    unreached: false,
  };
}

/** Only the probe's own query may stop a request with a valid body; any other 400 is a check not meant here. */
const probeStopped = (res: { status: number; json: unknown; text: string }) =>
  res.status === 400 && (res.json as { code?: string } | null)?.code === 'ERR_VALIDATION' && /quer/i.test(res.text);

/**
 * One invitation to one role in one tenant, with a valid body under the probe query: the decision is the complete
 * one (the invite right and the granting role for that role), and an allowed request stops at validation before
 * any invitation exists.
 */
export async function runInviteCell(
  phase: string,
  world: World,
  caller: Caller,
  persona: string,
  route: MatrixRoute,
  tenant: { key: string; id: string },
  role: string,
): Promise<Cell> {
  const ask = () => expectInvite(world, persona, route, tenant.key, role);
  const exp = ask();
  const res = await caller.api('POST', `${route.path.replace('{id}', tenant.id)}?${PROBE}`, {
    email: PROBE_INVITEE,
    role,
  });
  const cell = cellOf(
    phase,
    persona,
    route,
    `${tenant.key}|${role}`,
    exp,
    probeStopped(res) ? 'allowed' : res.status,
    ask,
  );
  return cell;
}

/**
 * One persona presenting one real invitation's code, as a real request: the invitation is decided inside the route
 * (the code is in the body), after validation, so a probe would never reach it. Only its invitee could use it, and
 * the invitee's use is the matrix's own event, so these cells are the others' attempts (and the invitee's second
 * one), each a refusal that changes nothing unless the deployment is wrong.
 */
export async function runInvitationCell(
  phase: string,
  world: World,
  caller: Caller,
  persona: string,
  route: MatrixRoute,
  invitation: World['invitations'][number],
  code: string,
): Promise<Cell> {
  const ask = () => expectInvitationAccept(world, persona, route, invitation);
  const exp = ask();
  const res = await caller.api('POST', route.path, { code });
  return cellOf(phase, persona, route, invitation.key, exp, res.status < 300 ? 'allowed' : res.status, ask);
}

/** Whether the matrix sends a persona's cell for an invitation: never the invitee's own use, which is an event. */
export function triesInvitation(world: World, persona: string, invitation: World['invitations'][number]): boolean {
  return invitation.status !== 'pending' || world.persona(persona).email !== invitation.email;
}
