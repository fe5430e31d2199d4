import type { Ids } from './resolve.js';
import type { MatrixPersona, World } from './world.js';

/** One state-changing call the matrix makes as a persona; it throws when the deployment refuses it. */
export type MatrixCall = (
  persona: string,
  method: string,
  path: string,
  body?: unknown,
) => Promise<Record<string, unknown>>;

/** The invitation the matrix makes through the API, and who will use it. */
export interface MatrixInvitation {
  key: string;
  tenant: string;
  invitee: string;
}

/**
 * A person with no relationship the other events depend on and no admin scope in their token: no vehicle, no
 * delegation, no case, no fleet role. Once a fleet admin, they are the admin whose session lacks `fleet:admin`.
 */
function quietPerson(world: World): string | undefined {
  const busy = (key: string) =>
    world.vehicles.some((v) => world.owner(v) === key) ||
    world.delegations.some((d) => d.driver === key) ||
    world.supportCases.some((c) => c.agent === key || c.account === key) ||
    world.persona(key).roles.some((r) => ['fleet', 'dealer'].includes(world.tenantKind(r.tenant) ?? ''));
  // The last such person: the first ones are the scenario's leads, whom later events may still pick.
  return [...world.personas.values()]
    .reverse()
    .find(
      (p) =>
        p.kind === 'person' &&
        !p.scopes.includes('fleet:admin') &&
        !p.scopes.includes('security:admin') &&
        p.scopes.includes('vehicle:read_status') &&
        !busy(p.key),
    )?.key;
}

/**
 * Before the first phase: a fleet admin invites that person to be a fleet admin of their fleet, through the API.
 * The invitation's code is the object of the accept cells (only its invitee may use it); nobody uses it until
 * `acceptInvitation`.
 */
export async function makeInvitation(world: World, ids: Ids, call: MatrixCall): Promise<MatrixInvitation | null> {
  const invitee = quietPerson(world);
  const admin = [...world.personas.values()].find((p) =>
    p.roles.some(
      (r) => r.role === 'fleet_admin' && world.tenantKind(r.tenant) === 'fleet' && ids.tenants.has(r.tenant),
    ),
  );
  const tenant = admin?.roles.find((r) => r.role === 'fleet_admin' && world.tenantKind(r.tenant) === 'fleet')?.tenant;
  if (!invitee || !admin || !tenant) return null;
  const email = world.persona(invitee).email;
  const made = await call(admin.key, 'POST', `/v1/tenants/${ids.tenants.get(tenant)}/invitations`, {
    email,
    role: 'fleet_admin',
  });
  const key = `invitation#${tenant}#fleet_admin`;
  world.invitations.push({ key, tenant, email, role: 'fleet_admin', inviter: admin.key, status: 'pending' });
  // The code is the invitation's only handle (it never appears in a URL); the accept cells send it in the body.
  ids.objects.set(key, made.code as string);
  return { key, tenant, invitee };
}

/** The invitee uses the invitation: from now on they hold its role, with a token that still has no admin scope. */
export async function acceptInvitation(
  world: World,
  ids: Ids,
  call: MatrixCall,
  invitation: MatrixInvitation,
): Promise<void> {
  await call(invitation.invitee, 'POST', '/v1/invitations/accept', { code: ids.objects.get(invitation.key) });
  world.acceptInvitation(invitation.key, invitation.invitee);
}

/**
 * Whom the buyer's other cars go to, each a new owner the rules treat apart from an ordinary one: someone who signs
 * in without a second factor (no transfer, partner grant or step-up command for them), and a security admin of the
 * platform operator, whose console token carries `security:admin` (as an owner still no `immobilize` without a
 * reason).
 */
const OTHER_BUYERS: Array<(p: MatrixPersona, world: World) => boolean> = [
  (p, world) =>
    !p.mfa &&
    p.scopes.includes('vehicle:transfer') &&
    !world.delegations.some((d) => d.driver === p.key && !d.ended && d.until > world.now()),
  (p, world) =>
    p.scopes.includes('security:admin') &&
    p.roles.some((r) => r.role === 'security_admin' && world.tenantKind(r.tenant) === 'oem'),
];

/** The buyer sells their other cars, one to each of `OTHER_BUYERS` who owns none yet; the cars sold, in order. */
export async function sellOtherCars(
  world: World,
  ids: Ids,
  call: MatrixCall,
  seller: string,
  sold: string,
): Promise<string[]> {
  const out: string[] = [];
  for (const fits of OTHER_BUYERS) {
    const car = world.vehicles.find(
      (v) => world.owner(v) === seller && v !== sold && !out.includes(v) && ids.vehicles.has(v),
    );
    const buyer = [...world.personas.values()].find(
      (p) => p.kind === 'person' && !world.vehicles.some((v) => world.owner(v) === p.key) && fits(p, world),
    );
    if (!car || !buyer) continue;
    await call(seller, 'POST', `/v1/vehicles/${ids.vehicles.get(car)}/transfer`, { toEmail: buyer.email });
    world.transfer(car, buyer.key);
    out.push(car);
  }
  return out;
}
