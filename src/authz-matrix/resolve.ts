import type { Scenario } from '../server/index.js';
import type { Caller } from './sessions.js';
import type { World } from './world.js';

/** Scenario keys → ids in the deployment. */
export interface Ids {
  users: Map<string, string>;
  tenants: Map<string, string>;
  vehicles: Map<string, string>;
  groups: Map<string, string>;
  /** World object keys (delegations, grants, cases, invites) → ids. */
  objects: Map<string, string>;
  unresolved: string[];
}

const ok = <T>(res: { status: number; json: unknown }, what: string): T => {
  if (res.status !== 200) throw new Error(`resolving ids: ${what} answered ${res.status}`);
  return res.json as T;
};

/**
 * Finds the ids of the scenario's objects through the API, each from the party who legitimately sees it
 * (an owner lists their vehicles and finds them by VIN, a fleet admin their groups). Anything not found is
 * reported, not guessed.
 */
export async function resolveIds(world: World, scenario: Scenario, callers: Map<string, Caller>): Promise<Ids> {
  const ids: Ids = {
    users: new Map(),
    tenants: new Map(),
    vehicles: new Map(),
    groups: new Map(),
    objects: new Map(),
    unresolved: [],
  };
  const tenantByName = new Map(scenario.tenants.map((t) => [t.name, t.key]));
  for (const p of world.personas.values()) {
    if (p.kind !== 'person') continue;
    const me = ok<{ sub: string; memberships: Array<{ tenantId: string; tenantName: string }> }>(
      await (callers.get(p.key) as Caller).api('GET', '/v1/me'),
      `/v1/me for ${p.key}`,
    );
    ids.users.set(p.key, me.sub);
    for (const m of me.memberships) {
      const key = tenantByName.get(m.tenantName);
      if (key) ids.tenants.set(key, m.tenantId);
    }
  }
  const vinOf = new Map((scenario.vehicles ?? []).map((v) => [v.vin, v.key]));
  for (const p of world.personas.values()) {
    if (p.kind !== 'person' || !p.scopes.includes('vehicle:read_status')) continue;
    const list = ok<{ vehicles: Array<{ id: string; vin: string | null }> }>(
      await (callers.get(p.key) as Caller).api('GET', '/v1/vehicles'),
      `vehicles of ${p.key}`,
    );
    for (const v of list.vehicles) {
      const key = v.vin ? vinOf.get(v.vin) : undefined;
      if (key) ids.vehicles.set(key, v.id);
    }
  }
  for (const [key, g] of world.groups) {
    const admin = [...world.personas.values()].find((p) =>
      p.roles.some((r) => r.tenant === g.tenant && r.role === 'fleet_admin'),
    );
    const tenantId = ids.tenants.get(g.tenant);
    if (!admin || !tenantId) {
      ids.unresolved.push(`group ${key}`);
      continue;
    }
    const list = ok<{ groups: Array<{ id: string; name: string }> }>(
      await (callers.get(admin.key) as Caller).api('GET', `/v1/fleets/${tenantId}/groups`),
      `groups of ${g.tenant}`,
    );
    const name = scenario.groups?.find((x) => x.key === key)?.name;
    const found = list.groups.find((x) => x.name === name);
    if (found) ids.groups.set(key, found.id);
    else ids.unresolved.push(`group ${key}`);
  }
  // Relationship records, from each vehicle's owner.
  for (const vehicle of world.vehicles) {
    const owner = world.owner(vehicle);
    const vid = ids.vehicles.get(vehicle);
    if (!owner || !vid) continue;
    const caller = callers.get(owner) as Caller;
    const dl = ok<{ delegations: Array<{ id: string; driver: { email: string } }> }>(
      await caller.api('GET', `/v1/vehicles/${vid}/delegations`),
      `delegations of ${vehicle}`,
    );
    for (const d of world.delegations.filter((x) => x.vehicle === vehicle && !x.ended)) {
      const found = dl.delegations.find((x) => x.driver.email === world.persona(d.driver).email);
      if (found) ids.objects.set(d.key, found.id);
      else ids.unresolved.push(`delegation ${d.key}`);
    }
    const gl = ok<{ grants: Array<{ id: string; clientId: string }> }>(
      await caller.api('GET', `/v1/vehicles/${vid}/partner-grants`),
      `partner grants of ${vehicle}`,
    );
    for (const g of world.partnerGrants.filter((x) => x.vehicle === vehicle && !x.ended)) {
      const found = gl.grants.find((x) => x.clientId === g.partner);
      if (found) ids.objects.set(g.key, found.id);
      else ids.unresolved.push(`partner grant ${g.key}`);
    }
    const sl = ok<{ cases: Array<{ id: string; dealerTenantId: string; status: string }> }>(
      await caller.api('GET', `/v1/vehicles/${vid}/service-cases`),
      `service cases of ${vehicle}`,
    );
    for (const c of world.serviceCases.filter((x) => x.vehicle === vehicle)) {
      const found = sl.cases.find(
        (x) =>
          x.dealerTenantId === ids.tenants.get(c.dealer) &&
          x.status === c.status &&
          ![...ids.objects.values()].includes(x.id),
      );
      if (found) ids.objects.set(c.key, found.id);
      else ids.unresolved.push(`service case ${c.key}`);
    }
  }
  const admin = [...world.personas.values()].find(
    (p) => p.roles.some((r) => r.role === 'security_admin') && p.scopes.includes('support:read'),
  );
  if (admin) {
    const list = ok<{ cases: Array<{ id: string; accountId: string; assigneeId: string }> }>(
      await (callers.get(admin.key) as Caller).api('GET', '/v1/support-cases'),
      'support cases',
    );
    for (const c of world.supportCases.filter((x) => x.status === 'open')) {
      const found = list.cases.find(
        (x) => x.accountId === ids.users.get(c.account) && x.assigneeId === ids.users.get(c.agent),
      );
      if (found) ids.objects.set(c.key, found.id);
      else ids.unresolved.push(`support case ${c.key}`);
    }
  }
  return ids;
}
