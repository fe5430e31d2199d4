import { randomUUID } from 'node:crypto';
import type { Agent } from 'node:https';
import type { Scenario } from '../server/index.js';
import { COMMAND_CATALOG } from '../commands/index.js';
import { type Cell, type MatrixReport, PROBE, routeKey } from './cells.js';
import { createJobs, listedJobsDiffer, runCommandCell, runJobCell } from './command-cells.js';
import { checksContents, listedDiffer } from './list-contents.js';
import { INVITE_ROLES, runInvitationCell, runInviteCell, triesInvitation } from './invitation-cells.js';
import { acceptInvitation, makeInvitation, sellOtherCars } from './invitation-events.js';
import { expect as expected, type Expectation } from './oracle.js';
import { type Ids, resolveIds } from './resolve.js';
import { MATRIX_ROUTES, type MatrixRoute, NO_JOB } from './routes.js';
import { type Caller, signInAll, type Target } from './sessions.js';
import { World } from './world.js';

/** The objects of a kind that a cell can name: every resolved one, plus a random id that does not exist. */
function objectsOf(route: MatrixRoute, world: World, ids: Ids): Array<{ key: string; id: string; other?: string }> {
  const ghost = { key: 'ghost', id: randomUUID() };
  const fromMap = (m: Map<string, string>) => [...m].map(([key, id]) => ({ key, id }));
  const objects = (keys: string[]) =>
    keys.filter((k) => ids.objects.has(k)).map((k) => ({ key: k, id: ids.objects.get(k) as string }));
  switch (route.object) {
    case 'vehicle':
      return [...fromMap(ids.vehicles), ghost];
    case 'self':
    case 'platform':
      return [{ key: route.object, id: '' }];
    case 'tenant':
      return [...fromMap(ids.tenants), ghost];
    case 'group':
      return [...fromMap(ids.groups), ghost];
    case 'groupVehicle':
    case 'groupMember': {
      const out: Array<{ key: string; id: string; other?: string }> = [];
      for (const [g, gid] of ids.groups) {
        const others =
          route.object === 'groupVehicle'
            ? [...ids.vehicles]
            : [...ids.users].filter(([u]) => world.persona(u).roles.some((r) => r.role.startsWith('fleet_')));
        for (const [o, oid] of others) out.push({ key: `${g}|${o}`, id: gid, other: oid });
      }
      return out;
    }
    case 'delegation':
      return [...objects(world.delegations.map((d) => d.key)), ghost];
    case 'invite':
      return [...objects(world.invites.map((i) => i.key)), ghost];
    case 'partnerGrant':
      return [...objects(world.partnerGrants.map((g) => g.key)), ghost];
    case 'serviceCase':
      return [...objects(world.serviceCases.map((c) => c.key)), ghost];
    case 'supportCase':
      return [...objects(world.supportCases.map((c) => c.key)), ghost];
    case 'account':
      return [...fromMap(ids.users), ghost];
  }
}

/** A pair route's object is only real when the second object belongs to the group's fleet. */
function pairValid(world: World, key: string, kind: MatrixRoute['object']): boolean {
  const [g, o] = key.split('|') as [string, string];
  const tenant = world.groups.get(g)?.tenant;
  if (kind === 'groupVehicle') return world.fleetOf(o)?.tenant === tenant;
  return world.persona(o).roles.some((r) => r.tenant === tenant && r.role === 'fleet_operator');
}

/** Runs one cell as a real HTTP request through the client library. */
async function runCell(
  phase: string,
  world: World,
  ids: Ids,
  caller: Caller,
  persona: string,
  route: MatrixRoute,
  obj: { key: string; id: string; other?: string },
): Promise<Cell> {
  const expectNow = (): Expectation => {
    let exp: Expectation = expected(world, persona, route, obj.key.split('|')[0] as string);
    const pair = route.object === 'groupVehicle' || route.object === 'groupMember';
    if (pair && !pairValid(world, obj.key, route.object)) {
      exp =
        exp.status === 403 && !route.scopes.every((s) => world.persona(persona).scopes.includes(s))
          ? exp
          : { allowed: false, status: 404, relations: [] };
    }
    if (obj.key === 'ghost' && exp.status !== 403) exp = { allowed: false, status: 404, relations: [] };
    return exp;
  };
  const exp = expectNow();
  const path = route.path
    .replace('{id}', obj.id)
    .replace('{other}', obj.other ?? '')
    .replace('{job}', NO_JOB);
  const query = route.mode === 'probe' ? PROBE : route.query;
  const body = route.mode === 'probe' && route.method !== 'DELETE' ? {} : undefined;
  const res = await caller.api(route.method, query ? `${path}?${query}` : path, body);
  const code = (res.json as { code?: string } | null)?.code;
  const validated = res.status === 400 && code === 'ERR_VALIDATION';
  const allowedNow = route.mode === 'read' && res.status === 200;
  // A probe's 400 says authorization let it through to validation, not that the action succeeded: unreached.
  const stoppedByValidation = route.mode === 'probe' && validated;
  const observed: Cell['observed'] = allowedNow ? 'allowed' : stoppedByValidation ? 'unreached' : res.status;
  // A cell in flight while a relationship expires (the short delegation) has two right answers: the state
  // before it was sent and the state once it was answered. Anything else is unexpected.
  const sameAs = (e: Expectation) => observed === e.status || (observed === 'unreached' && e.status === 'allowed');
  let unexpected = !sameAs(exp) && !sameAs(expectNow());
  const unreached = observed === 'unreached' && !unexpected;
  let note: string | undefined;
  if (!unexpected && route.action === 'vehicle:list' && allowedNow) {
    // The list must hold exactly the vehicles the oracle says this persona may read.
    const readRoute = MATRIX_ROUTES.find((r) => r.action === 'vehicle:read') as MatrixRoute;
    const want = [...ids.vehicles]
      .filter(([key]) => expected(world, persona, { ...readRoute, scopes: [] }, key).allowed)
      .map(([, id]) => id)
      .sort();
    const got = ((res.json as { vehicles: Array<{ id: string }> }).vehicles ?? [])
      .map((v) => v.id)
      .filter((id) => [...ids.vehicles.values()].includes(id))
      .sort();
    if (JSON.stringify(want) !== JSON.stringify(got)) {
      unexpected = true;
      note = `listed ${got.length}, expected ${want.length}`;
    }
  }
  if (!unexpected && checksContents(route.action) && allowedNow) {
    note = listedDiffer(world, ids, route.action, obj.key, res.json);
    unexpected = note !== undefined;
  }
  if (!unexpected && route.action === 'vehicle:list_commands' && allowedNow) {
    note = listedJobsDiffer(world, ids, persona, obj.key, res.json);
    unexpected = note !== undefined;
  }
  return {
    phase,
    persona,
    action: route.action,
    route: routeKey(route),
    object: obj.key,
    expected: exp.status,
    observed,
    relations: exp.relations,
    unexpected,
    unreached,
    ...(note ? { note } : {}),
  };
}

/** Runs cells with bounded concurrency. */
async function runAll(tasks: Array<() => Promise<Cell>>, width = 6): Promise<Cell[]> {
  const out: Cell[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await (tasks[i] as () => Promise<Cell>)();
      }
    }),
  );
  return out;
}

/**
 * Runs the authorization matrix against a live deployment seeded with `scenario`: every persona × every
 * object × every route, then again after each time-dependent event (consent revoked, support case closed,
 * service case closed, delegation expired, vehicle transferred). It changes the deployment's state through
 * those events, so run it against a demo or staging deployment, never production.
 */
export async function runMatrix(
  scenario: Scenario,
  target: Target,
  options: {
    log?: (line: string) => void;
    delegationSeconds?: number;
    /** Only the seeded state, with no state-changing events (a quick check of one policy set). */
    seededOnly?: boolean;
    /**
     * The deployment's clock when a test injected one: expiry is then reached by advancing it instead of
     * sleeping, and the short delegation can be long enough that no cell races its end.
     */
    clock?: { now(): number; advance(ms: number): void };
    /**
     * Skip the phases after the first one with an unexpected cell: enough to know a policy set is wrong (mutation
     * testing), not to list everything it gets wrong. The events still run, so the state stays what it would be.
     */
    stopOnUnexpected?: boolean;
  } = {},
): Promise<MatrixReport> {
  const world = new World(scenario, options.clock?.now() ?? Date.now());
  if (options.clock) world.now = () => (options.clock as { now(): number }).now();
  const agents: Agent[] = [];
  try {
    return await matrixOn(world, scenario, await signInAll(world, scenario, target, agents), options);
  } finally {
    for (const a of agents) a.destroy();
  }
}

/** The matrix's phases, once every persona is signed in. */
async function matrixOn(
  world: World,
  scenario: Scenario,
  callers: Map<string, Caller>,
  options: Parameters<typeof runMatrix>[2] & object,
): Promise<MatrixReport> {
  const log = options.log ?? (() => undefined);
  const ids = await resolveIds(world, scenario, callers);
  const cells: Cell[] = [];
  const phases: string[] = [];
  const phase = async (name: string, filter: (route: MatrixRoute, objectKey: string) => boolean = () => true) => {
    if (options.stopOnUnexpected && cells.some((c) => c.unexpected)) return;
    const tasks: Array<() => Promise<Cell>> = [];
    for (const route of MATRIX_ROUTES) {
      for (const obj of objectsOf(route, world, ids)) {
        if (!filter(route, obj.key)) continue;
        for (const persona of world.personas.keys()) {
          const caller = callers.get(persona) as Caller;
          tasks.push(() => runCell(name, world, ids, caller, persona, route, obj));
          if (route.action === 'vehicle:command' && route.object === 'vehicle') {
            for (const command of Object.values(COMMAND_CATALOG))
              tasks.push(() => runCommandCell(name, world, caller, persona, route, obj, command));
            // Once more without its reason: nobody immobilizes without one, the security admin included.
            const immobilize = COMMAND_CATALOG.immobilize;
            tasks.push(() => runCommandCell(name, world, caller, persona, route, obj, immobilize, { reason: false }));
          }
          // The invitation route once per role, so the granting-role rule for each role is inside the matrix.
          if (route.action === 'identity:invite' && obj.key !== 'ghost')
            for (const role of INVITE_ROLES)
              tasks.push(() => runInviteCell(name, world, caller, persona, route, obj, role));
          // Every real invitation's code, presented by everyone but its invitee (whose use of it is an event).
          if (route.action === 'identity:accept_invitation')
            for (const inv of world.invitations.filter((i) => triesInvitation(world, persona, i)))
              tasks.push(() =>
                runInvitationCell(name, world, caller, persona, route, inv, ids.objects.get(inv.key) as string),
              );
        }
      }
      // The job read route also runs against every real job, for job-level visibility.
      if (route.action === 'vehicle:read_command' && !route.path.endsWith('/events')) {
        for (const job of world.jobs) {
          if (!filter(route, job.vehicle)) continue;
          for (const persona of world.personas.keys()) {
            const caller = callers.get(persona) as Caller;
            tasks.push(() => runJobCell(name, world, ids, caller, persona, route, job));
          }
        }
      }
    }
    const done = await runAll(tasks);
    cells.push(...done);
    phases.push(name);
    log(`${name}: ${done.length} cells, ${done.filter((c) => c.unexpected).length} unexpected`);
  };
  const call = async (persona: string, method: string, path: string, body?: unknown) => {
    const res = await (callers.get(persona) as Caller).api(method, path, body);
    if (res.status >= 300)
      throw new Error(`matrix event ${method} ${path} as ${persona} failed: ${res.status} ${res.text.slice(0, 200)}`);
    return res.json as Record<string, unknown>;
  };
  const firstOwned = (owner: string) =>
    world.vehicles.find(
      (v) =>
        world.owner(v) === owner && ids.vehicles.has(v) && world.delegations.some((d) => d.vehicle === v && !d.ended),
    );
  const ownerKey = [...world.personas.values()].find(
    (p) =>
      p.kind === 'person' &&
      world.vehicles.some(
        (v) => world.owner(v) === p.key && world.delegations.some((d) => d.vehicle === v && !d.ended),
      ),
  )?.key;
  const vehicle = ownerKey ? firstOwned(ownerKey) : undefined;
  const inFuture = (s: number) => new Date(world.now() + s * 1000).toISOString();

  // Objects the seeded state lacks: a pending invite (for the accept cells) and a service request awaiting consent.
  if (ownerKey && vehicle) {
    const driver = world.delegations.find((d) => d.vehicle === vehicle && !d.ended)?.driver as string;
    const inv = await call(ownerKey, 'POST', `/v1/vehicles/${ids.vehicles.get(vehicle)}/delegations`, {
      email: world.persona(driver).email,
      commands: ['lock'],
      validUntil: inFuture(86_400),
    });
    world.invites.push({ key: 'invite#pending', email: world.persona(driver).email, vehicle, status: 'pending' });
    ids.objects.set('invite#pending', (inv.invite as { id: string }).id);
    const dealer = [...world.personas.values()].find((p) => p.roles.some((r) => r.role === 'dealer_technician'));
    const dealerTenant = dealer?.roles.find((r) => r.role === 'dealer_technician')?.tenant;
    const vin = scenario.vehicles?.find((v) => v.key === vehicle)?.vin;
    if (dealer && dealerTenant && vin) {
      const sc = await call(dealer.key, 'POST', `/v1/dealers/${ids.tenants.get(dealerTenant)}/service-cases`, {
        vin,
        reason: 'matrix: awaiting consent',
      });
      world.serviceCases.push({
        key: 'service#requested',
        dealer: dealerTenant,
        vehicle,
        status: 'requested',
        closesAt: Number.POSITIVE_INFINITY,
        requestedAt: world.now(),
      });
      ids.objects.set('service#requested', sc.id as string);
    }
  }
  const invitation = await makeInvitation(world, ids, call);
  cells.push(...(await createJobs(world, ids, callers)));
  await phase('seeded');

  if (ownerKey && vehicle && !options.seededOnly) {
    const vid = ids.vehicles.get(vehicle) as string;
    const onVehicle = (route: MatrixRoute, key: string) =>
      (route.object === 'vehicle' && key === vehicle) || route.object === 'self';
    const grant = world.partnerGrants.find((g) => g.vehicle === vehicle && !g.ended);
    if (grant && ids.objects.has(grant.key)) {
      await call(ownerKey, 'POST', `/v1/partner-grants/${ids.objects.get(grant.key)}/revoke`, {
        reason: 'matrix: consent withdrawn',
      });
      grant.ended = true;
      await phase('after partner consent revoked', (r, k) => onVehicle(r, k) || r.object === 'partnerGrant');
    }
    const support = world.supportCases.find((c) => c.vehicle === vehicle && c.status === 'open');
    const secAdmin = [...world.personas.values()].find((p) =>
      p.roles.some((r) => r.role === 'security_admin' && r.tenant === support?.operator),
    );
    if (support && secAdmin && ids.objects.has(support.key)) {
      await call(secAdmin.key, 'POST', `/v1/support-cases/${ids.objects.get(support.key)}/close`, {
        resolution: 'matrix: resolved',
      });
      support.status = 'closed';
      await phase(
        'after support case closed',
        (r, k) => onVehicle(r, k) || r.object === 'supportCase' || r.object === 'account',
      );
    }
    const service = world.serviceCases.find((c) => c.status === 'open' && c.vehicle && ids.objects.has(c.key));
    const tech =
      service &&
      [...world.personas.values()].find((p) =>
        p.roles.some((r) => r.role === 'dealer_technician' && r.tenant === service.dealer),
      );
    if (service && tech) {
      await call(tech.key, 'POST', `/v1/service-cases/${ids.objects.get(service.key)}/close`, {
        resolution: 'matrix: done',
      });
      service.status = 'closed';
      await phase(
        'after service case closed',
        (r, k) => (r.object === 'vehicle' && k === service.vehicle) || r.object === 'serviceCase',
      );
    }
    // A short delegation to someone with no other access: allowed while it runs, denied once it expires.
    const newcomer = [...world.personas.values()].find(
      (p) =>
        p.kind === 'person' &&
        p.scopes.includes('vehicle:read_status') &&
        !world.delegations.some((d) => d.driver === p.key) &&
        world.owner(vehicle) !== p.key &&
        !world.vehicles.some((v) => world.owner(v) === p.key),
    );
    if (newcomer) {
      const seconds = options.delegationSeconds ?? (options.clock ? 30 : 4);
      const inv = await call(ownerKey, 'POST', `/v1/vehicles/${vid}/delegations`, {
        email: newcomer.email,
        commands: ['lock'],
        validUntil: inFuture(seconds),
      });
      const accepted = await call(
        newcomer.key,
        'POST',
        `/v1/delegation-invites/${(inv.invite as { id: string }).id}/accept`,
        { code: inv.code },
      );
      const until = Date.parse(accepted.validUntil as string);
      world.delegations.push({
        key: 'delegation#short',
        driver: newcomer.key,
        vehicle,
        until,
        ended: false,
        commands: ['lock'],
      });
      ids.objects.set('delegation#short', accepted.id as string);
      await phase('during a short delegation', (r, k) => onVehicle(r, k) || r.object === 'delegation');
      const wait = Math.max(0, until - world.now()) + 1000;
      if (options.clock) options.clock.advance(wait);
      else await new Promise((r) => setTimeout(r, wait));
      await phase('after the delegation expired', (r, k) => onVehicle(r, k) || r.object === 'delegation');
    }
    const buyer = [...world.personas.values()].find(
      (p) => p.kind === 'person' && p.key !== ownerKey && world.vehicles.some((v) => world.owner(v) === p.key),
    );
    if (buyer) {
      await call(ownerKey, 'POST', `/v1/vehicles/${vid}/transfer`, { toEmail: buyer.email });
      world.transfer(vehicle, buyer.key);
      // The buyer also sells their other cars (to someone without a second factor, to a security admin).
      const others = await sellOtherCars(world, ids, call, buyer.key, vehicle);
      await phase(
        'after transfer',
        (r, k) =>
          onVehicle(r, k) ||
          (r.object === 'vehicle' && others.includes(k)) ||
          ['delegation', 'partnerGrant', 'serviceCase', 'invite'].includes(r.object),
      );
    }
    if (invitation) {
      await acceptInvitation(world, ids, call, invitation);
      await phase(
        'after an invitation was accepted',
        (r, k) => (r.object === 'tenant' && k === invitation.tenant) || r.object === 'self',
      );
    }
  }

  const reached = new Set(cells.map((c) => c.route));
  const all = [...new Set(MATRIX_ROUTES.map(routeKey))];
  return {
    cells,
    summary: {
      cells: cells.length,
      allowed: cells.filter((c) => c.observed === 'allowed').length,
      denied: cells.filter((c) => typeof c.observed === 'number').length,
      unexpected: cells.filter((c) => c.unexpected).length,
      unreached: cells.filter((c) => c.unreached).length,
      phases,
      routes: all.length,
      routesReached: all.filter((r) => reached.has(r)).length,
      routesMissing: all.filter((r) => !reached.has(r)),
      unresolved: ids.unresolved,
    },
  };
}

/** The report's last line: the two numbers CI and reviewers look for. */
export function summaryLine(report: MatrixReport): string {
  const s = report.summary;
  return `authz-matrix: cells=${s.cells} unexpected=${s.unexpected} unreached=${s.unreached} routes=${s.routesReached}/${s.routes}${s.routesMissing.length ? ` missing=${s.routesMissing.join(',')}` : ''}${s.unresolved.length ? ` unresolved=${s.unresolved.length}` : ''}`;
}
