/**
 * The matrix's oracle: who may do what, as a plain table from relationship to permitted actions. It is
 * written from the product rules (DESIGN.md "Relationships", the API reference), not from the Cedar
 * files, and reviewed on its own: when the two disagree, a cell is reported as unexpected and one of them
 * is wrong.
 */
import type { MatrixRoute } from './routes.js';
import type { World } from './world.js';

/** Relationship → the actions it permits on that kind of object. */
export const PERMITS = {
  vehicle: {
    owner: [
      'vehicle:read',
      'vehicle:read_status',
      'vehicle:read_location',
      'vehicle:read_diagnostics',
      'vehicle:transfer',
      'delegation:create',
      'delegation:list',
      'partner_grant:create',
      'partner_grant:list',
      'service_case:list_for_vehicle',
    ],
    driver: ['vehicle:read', 'vehicle:read_status', 'vehicle:read_location'],
    fleet_admin: ['vehicle:read', 'vehicle:read_status', 'vehicle:read_location', 'vehicle:read_diagnostics'],
    fleet_operator_of_group: ['vehicle:read', 'vehicle:read_status', 'vehicle:read_location'],
    dealer_with_open_case: ['vehicle:read', 'vehicle:read_status', 'vehicle:read_diagnostics'],
    support_agent_with_open_case: ['vehicle:read', 'vehicle:read_status', 'vehicle:read_location'],
    partner_with_status_consent: ['vehicle:read', 'vehicle:read_status'],
    partner_with_location_consent: ['vehicle:read_location'],
    // Commands (issue 5): owners, fleet admins and the group's operators command and follow every job;
    // drivers and support agents with a case follow their own jobs; commanding needs a named command they
    // were delegated or approved for, which the matrix probe does not send.
    owner_commands: ['vehicle:command', 'vehicle:list_commands', 'vehicle:read_command'],
    fleet_admin_commands: ['vehicle:command', 'vehicle:list_commands', 'vehicle:read_command'],
    fleet_operator_commands: ['vehicle:command', 'vehicle:list_commands', 'vehicle:read_command'],
    own_jobs_reader: ['vehicle:read_command'],
  },
  self: {
    person: [
      'identity:read_self',
      'identity:change_password',
      'identity:enroll_mfa',
      'identity:accept_invitation',
      'vehicle:list',
      'vehicle:claim',
      'delegation:list_invites',
    ],
    support_staff: ['support_case:list', 'support:search'],
    partner: ['vehicle:list'],
  },
  tenant: {
    member: ['tenant:read'],
    owner: ['identity:invite'],
    security_admin: ['identity:invite', 'webhook:manage'],
    fleet_admin: ['identity:invite', 'fleet:list_groups', 'fleet:create_group', 'webhook:manage'],
    partner_own_tenant: ['webhook:manage'],
    fleet_operator: ['fleet:list_groups'],
    dealer_technician: ['identity:invite', 'service_case:request', 'service_case:list'],
    fleet_commander: ['fleet:command'],
  },
  group: {
    fleet_admin: [
      'fleet:read_group',
      'fleet:assign_vehicle',
      'fleet:unassign_vehicle',
      'fleet:assign_member',
      'fleet:unassign_member',
    ],
    assigned_operator: ['fleet:read_group'],
  },
  delegation: { vehicle_owner: ['delegation:revoke'] },
  invite: { invitee_while_pending: ['delegation:accept'], vehicle_owner_while_pending: ['delegation:revoke_invite'] },
  partnerGrant: { vehicle_owner: ['partner_grant:revoke'] },
  serviceCase: {
    vehicle_owner_while_requested: ['service_case:consent', 'service_case:close'],
    vehicle_owner_while_open: ['service_case:close'],
    dealer_technician_while_not_closed: ['service_case:close'],
  },
  supportCase: {
    assignee_while_open: ['support_case:close'],
    security_admin_while_open: ['support_case:close', 'support_case:approve_command'],
  },
  account: { self: ['account:read'], agent_with_open_case: ['account:read'] },
  platform: { security_admin: ['support_case:open'] },
} as const;

/**
 * Actions that also need a sign-in with a second factor, whatever the relationship (README "How fresh a sign-in
 * must be": a transfer, opening a support case, approving an agent's command, and a partner grant, which needs the
 * recent second factor of a transfer).
 */
export const MFA_REQUIRED: readonly string[] = [
  'vehicle:transfer',
  'support_case:open',
  'support_case:approve_command',
  'partner_grant:create',
];

/**
 * A person manages a tenant's webhook endpoints only with an admin scope in the token (README "Subscribing": the
 * fleet console's `fleet:admin` or the security console's `security:admin`); a person's token without one is
 * refused even for an admin. Partners manage their own with their client-credentials token.
 */
export const PERSON_ADMIN_SCOPES: Partial<Record<string, readonly string[]>> = {
  'webhook:manage': ['fleet:admin', 'security:admin'],
};

/** What a cell should answer. */
export interface Expectation {
  allowed: boolean;
  /** 2xx/400-probe when allowed; 403 when the token lacks the scope or the caller may see the object; else 404. */
  status: 'allowed' | 403 | 404;
  relations: string[];
}

type Permits = Record<string, readonly string[]>;
const allows = (table: Permits, relations: string[], action: string) =>
  relations.some((r) => table[r]?.includes(action));

/** The relations a persona has to an object, derived from the world model (scenario plus events so far). */
export function relationsOf(world: World, persona: string, route: MatrixRoute, objectKey: string): string[] {
  const p = world.persona(persona);
  const out: string[] = [];
  const now = world.now();
  const hasRole = (tenant: string | null | undefined, role: string) =>
    !!tenant && p.roles.some((r) => r.tenant === tenant && r.role === role);
  switch (route.object) {
    case 'vehicle': {
      const v = objectKey;
      if (world.owner(v) === persona) out.push('owner');
      if (world.delegations.some((d) => d.driver === persona && d.vehicle === v && d.until > now && !d.ended))
        out.push('driver');
      const fleet = world.fleetOf(v);
      if (fleet && hasRole(fleet.tenant, 'fleet_admin')) out.push('fleet_admin');
      if (
        fleet &&
        hasRole(fleet.tenant, 'fleet_operator') &&
        [...fleet.groups].some((g) => world.groupMembers.get(g)?.has(persona))
      )
        out.push('fleet_operator_of_group');
      if (
        world.serviceCases.some(
          (c) => c.vehicle === v && c.status === 'open' && c.closesAt > now && hasRole(c.dealer, 'dealer_technician'),
        )
      )
        out.push('dealer_with_open_case');
      if (world.supportCases.some((c) => c.vehicle === v && c.status === 'open' && c.agent === persona))
        out.push('support_agent_with_open_case');
      if (out.includes('owner')) out.push('owner_commands');
      if (out.includes('fleet_admin')) out.push('fleet_admin_commands');
      if (out.includes('fleet_operator_of_group')) out.push('fleet_operator_commands');
      if (
        out.includes('driver') ||
        out.includes('support_agent_with_open_case') ||
        out.includes('dealer_with_open_case') ||
        p.roles.some((r) => r.role === 'security_admin' && world.tenantKind(r.tenant) === 'oem')
      )
        out.push('own_jobs_reader');
      for (const g of world.partnerGrants.filter(
        (g) => g.partner === persona && g.vehicle === v && g.until > now && !g.ended,
      )) {
        if (g.scopes.includes('vehicle:read_status')) out.push('partner_with_status_consent');
        if (g.scopes.includes('vehicle:location')) out.push('partner_with_location_consent');
      }
      break;
    }
    case 'self':
      out.push(p.kind === 'partner' ? 'partner' : 'person');
      if (p.roles.some((r) => r.role === 'support_agent' || r.role === 'security_admin')) out.push('support_staff');
      break;
    case 'tenant':
      if (p.roles.some((r) => r.tenant === objectKey)) out.push('member');
      if (p.kind === 'partner' && p.tenant === objectKey) out.push('partner_own_tenant');
      for (const r of p.roles.filter((r) => r.tenant === objectKey)) {
        const kind = world.tenantKind(objectKey);
        if (r.role === 'fleet_admin' || r.role === 'fleet_operator') {
          if (kind === 'fleet') out.push(r.role, 'fleet_commander');
        } else if (r.role === 'dealer_technician') {
          if (kind === 'dealer') out.push(r.role);
        } else out.push(r.role);
      }
      break;
    case 'group':
    case 'groupVehicle':
    case 'groupMember': {
      const group = world.groups.get(objectKey);
      if (group && hasRole(group.tenant, 'fleet_admin')) out.push('fleet_admin');
      if (group && hasRole(group.tenant, 'fleet_operator') && world.groupMembers.get(objectKey)?.has(persona))
        out.push('assigned_operator');
      break;
    }
    case 'delegation': {
      const d = world.delegations.find((x) => x.key === objectKey);
      if (d && !d.ended && d.until > now && world.owner(d.vehicle) === persona) out.push('vehicle_owner');
      break;
    }
    case 'invite': {
      const i = world.invites.find((x) => x.key === objectKey);
      if (i && i.status === 'pending' && world.persona(persona).email === i.email) out.push('invitee_while_pending');
      if (i && i.status === 'pending' && world.owner(i.vehicle) === persona) out.push('vehicle_owner_while_pending');
      break;
    }
    case 'partnerGrant': {
      const g = world.partnerGrants.find((x) => x.key === objectKey);
      if (g && !g.ended && g.until > now && world.owner(g.vehicle) === persona) out.push('vehicle_owner');
      break;
    }
    case 'serviceCase': {
      const c = world.serviceCases.find((x) => x.key === objectKey);
      const status = c && c.status === 'open' && c.closesAt <= now ? 'closed' : c?.status;
      if (c && c.vehicle && world.owner(c.vehicle) === persona) {
        if (status === 'requested') out.push('vehicle_owner_while_requested');
        if (status === 'open') out.push('vehicle_owner_while_open');
      }
      if (c && (status === 'requested' || status === 'open') && hasRole(c.dealer, 'dealer_technician'))
        out.push('dealer_technician_while_not_closed');
      break;
    }
    case 'supportCase': {
      const c = world.supportCases.find((x) => x.key === objectKey);
      if (c && c.status === 'open' && c.agent === persona) out.push('assignee_while_open');
      if (c && c.status === 'open' && c.agent !== persona && hasRole(c.operator, 'security_admin'))
        out.push('security_admin_while_open');
      break;
    }
    case 'account':
      if (objectKey === persona) out.push('self');
      if (world.supportCases.some((c) => c.account === objectKey && c.status === 'open' && c.agent === persona))
        out.push('agent_with_open_case');
      break;
    case 'platform':
      if (p.roles.some((r) => r.role === 'security_admin' && world.tenantKind(r.tenant) === 'oem'))
        out.push('security_admin');
      break;
  }
  return out;
}

/** The expected answer of one cell: scopes first (the token layer), then the relationship table. */
export function expect(world: World, persona: string, route: MatrixRoute, objectKey: string): Expectation {
  const p = world.persona(persona);
  const relations = relationsOf(world, persona, route, objectKey);
  const missing = route.scopes.filter((s) => !p.scopes.includes(s));
  const scopeOk = route.anyScope ? missing.length < route.scopes.length : missing.length === 0;
  if (!scopeOk) return { allowed: false, status: 403, relations };
  const table = PERMITS[tableOf(route.object)] as Permits;
  const adminScopes = p.kind === 'person' ? PERSON_ADMIN_SCOPES[route.action] : undefined;
  const adminScopeOk = !adminScopes || adminScopes.some((s) => p.scopes.includes(s));
  if (allows(table, relations, route.action) && (!MFA_REQUIRED.includes(route.action) || p.mfa) && adminScopeOk)
    return { allowed: true, status: 'allowed', relations };
  if (!route.visibleWith) return { allowed: false, status: 404, relations };
  const visibleRoute = { ...route, action: route.visibleWith };
  const visibleTable = PERMITS[tableOf(route.object)] as Permits;
  return {
    allowed: false,
    status: allows(visibleTable, relationsOf(world, persona, visibleRoute, objectKey), route.visibleWith) ? 403 : 404,
    relations,
  };
}

function tableOf(kind: MatrixRoute['object']): keyof typeof PERMITS {
  return kind === 'groupVehicle' || kind === 'groupMember' ? 'group' : kind;
}

/**
 * Who may send which remote command, in the product's words (README "Remote commands"): the owner and the
 * fleet admin any command but `immobilize`; a fleet operator the vehicles of their groups, but not
 * `diagnostics_run`; a driver exactly the commands the owner delegated; `diagnostics_run` also a dealer
 * technician with an open service case; `immobilize` only a security admin of the platform operator, with a
 * reason; a support agent only with a just-in-time approval for that command (the scenario gives none); a partner
 * never. An `immobilize` without a reason is nobody's. Relation → the commands it permits; `*` is every command but
 * the two named ones.
 */
export const COMMAND_PERMITS: Record<string, readonly string[]> = {
  owner: ['*', 'diagnostics_run'],
  fleet_admin: ['*', 'diagnostics_run'],
  fleet_operator_of_group: ['*'],
  dealer_with_open_case: ['diagnostics_run'],
  platform_security_admin: ['immobilize'],
};

/** The command's facts the rules need, from the command catalog (the product's own table). */
export interface CommandFacts {
  name: string;
  scope: string;
  stepUp: boolean;
  /** False when the request gives no reason (`immobilize` is sent only with one). */
  reason?: boolean;
}

/** What one command request should answer: allowed, the step-up challenge (401), 403 or 404. */
export function expectCommand(
  world: World,
  persona: string,
  route: MatrixRoute,
  command: CommandFacts,
  vehicleKey: string,
): { status: 'allowed' | 401 | 403 | 404; relations: string[] } {
  const p = world.persona(persona);
  const relations = vehicleKey === 'ghost' ? [] : relationsOf(world, persona, route, vehicleKey);
  const now = world.now();
  if (p.roles.some((r) => r.role === 'security_admin' && world.tenantKind(r.tenant) === 'oem'))
    relations.push('platform_security_admin');
  const delegated = world.delegations.some(
    (d) =>
      d.driver === persona &&
      d.vehicle === vehicleKey &&
      !d.ended &&
      d.until > now &&
      d.commands.includes(command.name),
  );
  // The token layer first: a token with none of the command scopes never reaches the vehicle.
  if (!route.scopes.some((s) => p.scopes.includes(s))) return { status: 403, relations };
  if (vehicleKey === 'ghost') return { status: 404, relations };
  const visible = relations.some((r) => (PERMITS.vehicle as Permits)[r]?.includes('vehicle:read'));
  const special = command.name === 'immobilize' || command.name === 'diagnostics_run';
  const permitted =
    (delegated && p.kind === 'person') ||
    relations.some((r) => {
      const allowed = COMMAND_PERMITS[r] ?? [];
      if (command.name === 'immobilize' && command.reason === false) return false;
      return allowed.includes(command.name) || (!special && allowed.includes('*'));
    });
  const fleetVehicle = world.fleetOf(vehicleKey) !== null;
  const scoped =
    p.scopes.includes(command.scope) ||
    (p.scopes.includes('fleet:command') && fleetVehicle && command.scope !== 'security:admin');
  const denied = visible ? 403 : 404;
  if (!permitted || !scoped) return { status: denied, relations };
  // A step-up command for someone without a second factor: challenged where the vehicle is visible.
  if (command.stepUp && !p.mfa) return { status: visible ? 401 : 404, relations };
  return { status: 'allowed', relations };
}

/**
 * Whether one real job may be read (`GET /v1/vehicles/{id}/commands/{job}`): whoever may follow the vehicle's
 * jobs reads their own; the owner, the fleet admin and the group's operators also read the jobs of their own time
 * with the vehicle, never a previous holder's. A job the caller may not read answers as missing.
 */
export function expectJobRead(
  world: World,
  persona: string,
  route: MatrixRoute,
  job: World['jobs'][number],
): { status: 'allowed' | 403 | 404; relations: string[] } {
  const p = world.persona(persona);
  const relations = relationsOf(world, persona, route, job.vehicle);
  if (!route.scopes.every((s) => p.scopes.includes(s))) return { status: 403, relations };
  const table = PERMITS.vehicle as Permits;
  if (!allows(table, relations, 'vehicle:read_command'))
    return { status: allows(table, relations, 'vehicle:read') ? 403 : 404, relations };
  const since = world.owner(job.vehicle) === persona ? (world.ownerSince.get(job.vehicle) ?? -Infinity) : -Infinity;
  const holder = ['owner', 'fleet_admin', 'fleet_operator_of_group'].some((r) => relations.includes(r));
  const readable = job.requester === persona || (holder && job.createdAt >= since);
  return { status: readable ? 'allowed' : 404, relations };
}

/**
 * Who may grant which role by invitation (the product's role rules): a fleet admin makes fleet admins and operators, a
 * dealer technician makes technicians, a security admin makes support agents and security admins, all in their own
 * tenant. Owner and driver need only the right to invite into the tenant. A role missing here is granted by nobody.
 */
export const GRANTED_BY: Record<string, string | null> = {
  owner: null,
  driver: null,
  fleet_admin: 'fleet_admin',
  fleet_operator: 'fleet_admin',
  dealer_technician: 'dealer_technician',
  support_agent: 'security_admin',
  security_admin: 'security_admin',
};

/** What an invitation to `role` in a tenant should answer: the invite right first, then the granting role. */
export function expectInvite(
  world: World,
  persona: string,
  route: MatrixRoute,
  tenantKey: string,
  role: string,
): Expectation {
  const base = expect(world, persona, route, tenantKey);
  if (!base.allowed) return base;
  const granting = GRANTED_BY[role];
  if (granting === null) return base;
  const holds = world.persona(persona).roles.some((r) => r.tenant === tenantKey && r.role === granting);
  // The inviter is a member of the tenant (the invite right needs a role in it), so the refusal is a 403.
  return holds ? base : { allowed: false, status: 403, relations: base.relations };
}

/**
 * Whether a person may accept one real invitation by its code: only its invitee, while it is pending and the
 * inviter still holds the role that grants it. Any other refusal answers as if the code did not exist.
 */
export function expectInvitationAccept(
  world: World,
  persona: string,
  route: MatrixRoute,
  invitation: World['invitations'][number],
): Expectation {
  const base = expect(world, persona, route, 'self');
  if (!base.allowed) return base;
  const granting = GRANTED_BY[invitation.role];
  const inviterHolds =
    granting === null ||
    (granting !== undefined &&
      world.persona(invitation.inviter).roles.some((r) => r.tenant === invitation.tenant && r.role === granting));
  const mine = world.persona(persona).email === invitation.email && invitation.status === 'pending';
  return mine && inviterHolds ? base : { allowed: false, status: 404, relations: base.relations };
}
