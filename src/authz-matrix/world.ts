import type { Scenario } from '../server/index.js';

/** A persona as the matrix sees it: a person signed in through their app, or a partner service. */
export interface MatrixPersona {
  key: string;
  kind: 'person' | 'partner';
  email: string;
  /** The OAuth client the persona uses, and the scopes it asks for (all the client's API scopes). */
  clientId: string;
  scopes: string[];
  roles: Array<{ tenant: string; role: string }>;
  /** Signs in with a second factor (the scenario gives the persona a TOTP secret). */
  mfa: boolean;
  /** A partner's own tenant (its application's). */
  tenant?: string;
}

/** Which app each role signs in through, as a deployment's users would. */
export const APP_FOR_ROLE: Record<string, string> = {
  owner: 'carapace-owner-app',
  driver: 'carapace-owner-app',
  fleet_admin: 'carapace-fleet-console',
  fleet_operator: 'carapace-fleet-console',
  dealer_technician: 'carapace-dealer-tool',
  support_agent: 'carapace-support-console',
  security_admin: 'carapace-security-console',
};

const DAY = 86_400_000;
const when = (now: number, rel: string | undefined, fallback: number) => {
  if (!rel) return fallback;
  const m = /^([+-])(\d+)([dhm])$/.exec(rel);
  if (!m) return fallback;
  const unit = m[3] === 'd' ? DAY : m[3] === 'h' ? 3_600_000 : 60_000;
  return now + (m[1] === '-' ? -1 : 1) * Number(m[2]) * unit;
};

/**
 * The expected state of the deployment, kept by the matrix itself: built from the scenario file and
 * updated by the matrix's own events (revoke, close, expire, transfer). It never reads the relationship
 * store, so it can disagree with it.
 */
export class World {
  personas = new Map<string, MatrixPersona>();
  tenants = new Map<string, { kind: string }>();
  groups = new Map<string, { tenant: string }>();
  groupMembers = new Map<string, Set<string>>();
  vehicles: string[] = [];
  owners = new Map<string, string | null>();
  fleets = new Map<string, { tenant: string; groups: Set<string> }>();
  /** Delegations, with the commands the owner delegated (a driver sends exactly those). */
  delegations: Array<{
    key: string;
    driver: string;
    vehicle: string;
    until: number;
    ended: boolean;
    commands: string[];
  }> = [];
  invites: Array<{ key: string; email: string; vehicle: string; status: 'pending' | 'accepted' | 'revoked' }> = [];
  serviceCases: Array<{
    key: string;
    dealer: string;
    vehicle: string | null;
    status: 'requested' | 'open' | 'closed';
    closesAt: number;
    /** When the dealer asked for the case. */
    requestedAt: number;
  }> = [];
  supportCases: Array<{
    key: string;
    operator: string;
    agent: string;
    account: string;
    vehicle: string | null;
    status: 'open' | 'closed';
  }> = [];
  partnerGrants: Array<{
    key: string;
    partner: string;
    vehicle: string;
    scopes: string[];
    until: number;
    ended: boolean;
  }> = [];

  /** Tenant invitations the matrix made through the API: who invited whom to which role, and whether used. */
  invitations: Array<{
    key: string;
    tenant: string;
    email: string;
    role: string;
    inviter: string;
    status: 'pending' | 'accepted';
  }> = [];

  /** Command jobs the matrix created through the API: who asked, for which vehicle, when. */
  jobs: Array<{ key: string; vehicle: string; requester: string; createdAt: number }> = [];
  /** When a vehicle's current owner became its owner (the scenario's start, or the transfer during the run). */
  ownerSince = new Map<string, number>();

  /** Builds the world as the scenario describes it, as of `now` (the moment it was seeded is taken as now). */
  /** The deployment's time as the oracle judges it (the wall clock, or the clock a test injected). */
  now: () => number = Date.now;

  constructor(scenario: Scenario, now: number) {
    const apps = new Map((scenario.applications ?? []).map((a) => [a.clientId, a]));
    const apiScopes = (clientId: string) => (apps.get(clientId)?.scopes ?? []).filter((s) => s.includes(':'));
    for (const t of scenario.tenants) this.tenants.set(t.key, { kind: t.kind });
    for (const u of scenario.users) {
      const roles = u.memberships.map((m) => ({ tenant: m.tenant, role: m.role }));
      const clientId = APP_FOR_ROLE[roles[0]?.role ?? 'owner'] ?? 'carapace-owner-app';
      this.personas.set(u.key, {
        key: u.key,
        kind: 'person',
        email: u.email,
        clientId,
        scopes: apiScopes(clientId),
        roles,
        mfa: u.totp !== undefined,
      });
    }
    for (const a of scenario.applications ?? []) {
      if (a.kind === 'partner')
        this.personas.set(a.clientId, {
          key: a.clientId,
          kind: 'partner',
          email: '',
          clientId: a.clientId,
          scopes: apiScopes(a.clientId),
          roles: [],
          mfa: false,
          tenant: a.tenant,
        });
    }
    for (const g of scenario.groups ?? []) {
      this.groups.set(g.key, { tenant: g.tenant });
      this.groupMembers.set(g.key, new Set());
    }
    for (const v of scenario.vehicles ?? []) {
      this.vehicles.push(v.key);
      this.owners.set(v.key, null);
    }
    let n = 0;
    for (const r of scenario.relationships ?? []) {
      const from = when(now, r.from, now);
      const until = when(now, r.until, Number.POSITIVE_INFINITY);
      const ended = r.ended !== undefined && when(now, r.ended, now) <= now;
      const live = from <= now && until > now && !ended;
      const key = `${r.kind}#${n++}`;
      if (r.kind === 'ownership' && live && r.user && r.vehicle) {
        this.owners.set(r.vehicle, r.user);
        this.ownerSince.set(r.vehicle, from);
      }
      if (r.kind === 'delegation' && r.user && r.vehicle)
        this.delegations.push({
          key,
          driver: r.user,
          vehicle: r.vehicle,
          until,
          ended: !live,
          commands: r.commands ?? [],
        });
      if (r.kind === 'fleet_vehicle' && live && r.tenant && r.vehicle) {
        const f = this.fleets.get(r.vehicle) ?? { tenant: r.tenant, groups: new Set<string>() };
        if (r.group) f.groups.add(r.group);
        this.fleets.set(r.vehicle, f);
      }
      if (r.kind === 'fleet_group_member' && live && r.user && r.group) this.groupMembers.get(r.group)?.add(r.user);
      if (r.kind === 'service_case' && r.tenant && r.vehicle)
        this.serviceCases.push({
          key,
          dealer: r.tenant,
          vehicle: r.vehicle,
          status: live ? 'open' : 'closed',
          closesAt: until,
          requestedAt: from,
        });
      if (r.kind === 'support_case' && r.user && r.account) {
        const operator = this.personas.get(r.user)?.roles.find((m) => m.role === 'support_agent')?.tenant ?? '';
        this.supportCases.push({
          key,
          operator,
          agent: r.user,
          account: r.account,
          vehicle: r.vehicle ?? null,
          status: live ? 'open' : 'closed',
        });
      }
      if (r.kind === 'partner_grant' && r.application && r.vehicle)
        this.partnerGrants.push({
          key,
          partner: r.application,
          vehicle: r.vehicle,
          scopes: r.scopes ?? [],
          until,
          ended: !live,
        });
    }
  }

  /** A persona by key; throws on a key the scenario does not have. */
  persona(key: string): MatrixPersona {
    const p = this.personas.get(key);
    if (!p) throw new Error(`the scenario has no persona ${key}`);
    return p;
  }

  /** The current owner of a vehicle. */
  owner(vehicle: string): string | null {
    return this.owners.get(vehicle) ?? null;
  }

  /** The fleet a vehicle belongs to, with its groups. */
  fleetOf(vehicle: string): { tenant: string; groups: Set<string> } | null {
    return this.fleets.get(vehicle) ?? null;
  }

  /** A tenant's kind. */
  tenantKind(tenant: string): string | null {
    return this.tenants.get(tenant)?.kind ?? null;
  }

  /** An invitation used by its invitee: the role it names is theirs from now on. */
  acceptInvitation(key: string, persona: string): void {
    const inv = this.invitations.find((i) => i.key === key);
    if (!inv || inv.status !== 'pending') throw new Error(`no pending invitation ${key}`);
    inv.status = 'accepted';
    this.persona(persona).roles.push({ tenant: inv.tenant, role: inv.role });
  }

  /** The transfer cascade as the product rules state it: the old owner's drivers, consents and cases end. */
  transfer(vehicle: string, to: string): void {
    this.owners.set(vehicle, to);
    this.ownerSince.set(vehicle, this.now());
    for (const d of this.delegations) if (d.vehicle === vehicle) d.ended = true;
    for (const g of this.partnerGrants) if (g.vehicle === vehicle) g.ended = true;
    for (const c of this.serviceCases) if (c.vehicle === vehicle && c.status !== 'closed') c.status = 'closed';
    for (const i of this.invites) if (i.vehicle === vehicle && i.status === 'pending') i.status = 'revoked';
  }
}
