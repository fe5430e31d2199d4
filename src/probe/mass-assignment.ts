import type { Caller } from '../authz-matrix/index.js';
import { type CheckReport, Tally } from './report.js';
import { codeOf, observed, type ProbeSession } from './session.js';

/** A write with a field the route does not declare, by someone allowed to make the write. */
interface Attempt {
  name: string;
  persona: string;
  path: string;
  body: Record<string, unknown>;
  extra: string;
}

/**
 * Mass assignment: bodies that are valid but for one extra field naming who owns what (ownerId, tenantId, role,
 * status, state) must be refused with 400 ERR_VALIDATION naming that field, and the object must not change. Each
 * write is one its sender may make, so only the extra field can explain a refusal.
 */
export async function massAssignment(s: ProbeSession): Promise<CheckReport> {
  const t = new Tally('mass-assignment');
  const attempts = plan(s, t);
  for (const a of attempts) {
    const caller = s.caller(a.persona);
    const before = await snapshot(caller, a.path);
    const res = await caller.api('POST', a.path, a.body);
    const field = (res.json as { field?: unknown } | null)?.field;
    const refused = res.status === 400 && codeOf(res) === 'ERR_VALIDATION' && String(field).includes(a.extra);
    const after = await snapshot(caller, a.path);
    t.record(refused && before === after, {
      attack: `${a.name} with an extra "${a.extra}"`,
      persona: a.persona,
      request: `POST ${a.path}`,
      expected: `400 ERR_VALIDATION on body.${a.extra}, nothing changed`,
      observed: `${observed(res)}${before === after ? '' : ', the object changed'}`,
    });
  }
  return t.report();
}

function plan(s: ProbeSession, t: Tally): Attempt[] {
  const w = s.world;
  const out: Attempt[] = [];
  const attacker = [...s.ids.users].at(-1)?.[1] ?? 'someone';
  const owner = w.vehicles
    .map((v) => [v, w.owner(v)] as const)
    .find(([v, o]) => o && s.ids.vehicles.has(v) && w.persona(o).mfa);
  if (owner) {
    const [vehicle, key] = owner as [string, string];
    const vid = s.ids.vehicles.get(vehicle) as string;
    const driver = [...w.personas.values()].find((p) => p.kind === 'person' && p.key !== key);
    const invite = {
      email: driver?.email ?? 'nobody@example.com',
      commands: ['lock'],
      validUntil: new Date(Date.now() + 86_400_000).toISOString(),
    };
    out.push(
      {
        name: 'invite a driver',
        persona: key,
        path: `/v1/vehicles/${vid}/delegations`,
        body: { ...invite, role: 'owner' },
        extra: 'role',
      },
      {
        name: 'invite a driver',
        persona: key,
        path: `/v1/vehicles/${vid}/delegations`,
        body: { ...invite, ownerId: attacker },
        extra: 'ownerId',
      },
      // A transfer to oneself is refused by the handler: an open schema would show as that refusal, never a transfer.
      {
        name: 'transfer',
        persona: key,
        path: `/v1/vehicles/${vid}/transfer`,
        body: { toEmail: w.persona(key).email, ownerId: attacker },
        extra: 'ownerId',
      },
    );
  } else t.skip('no owner with a second factor and a vehicle: owner writes not tried');
  const admin = [...w.personas.values()].find((p) => p.roles.some((r) => r.role === 'fleet_admin'));
  const tenant = admin?.roles.find((r) => r.role === 'fleet_admin')?.tenant;
  const other = [...s.ids.tenants].find(([k]) => k !== tenant)?.[1];
  if (admin && tenant && s.ids.tenants.has(tenant) && other)
    out.push({
      name: 'create a fleet group',
      persona: admin.key,
      path: `/v1/fleets/${s.ids.tenants.get(tenant)}/groups`,
      body: { name: 'probe: must not be created', tenantId: other },
      extra: 'tenantId',
    });
  else t.skip('no fleet admin: group creation not tried');
  return out;
}

/** What the write could change, read back by its sender: the list (or object) at the write's path. */
async function snapshot(caller: Caller, path: string): Promise<string> {
  const read = path.endsWith('/transfer') ? path.slice(0, -'/transfer'.length) : path;
  const res = await caller.api('GET', read);
  return `${res.status} ${res.text}`;
}
