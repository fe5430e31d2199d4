import { randomUUID } from 'node:crypto';
import { COMMAND_CATALOG } from '../commands/index.js';
import { type Cell, PROBE, routeKey } from './cells.js';
import { expectCommand, expectJobRead } from './oracle.js';
import type { Ids } from './resolve.js';
import { MATRIX_ROUTES, type MatrixRoute } from './routes.js';
import type { Caller } from './sessions.js';
import type { World } from './world.js';

/** The list of a vehicle's jobs must hold exactly the matrix's jobs the persona may read; a note when it does not. */
export function listedJobsDiffer(
  world: World,
  ids: Ids,
  persona: string,
  vehicle: string,
  json: unknown,
): string | undefined {
  const readRoute = MATRIX_ROUTES.find(
    (r) => r.action === 'vehicle:read_command' && !r.path.endsWith('/events'),
  ) as MatrixRoute;
  const mine = new Map(world.jobs.filter((j) => j.vehicle === vehicle).map((j) => [ids.objects.get(j.key), j]));
  const want = [...mine]
    .filter(([, j]) => expectJobRead(world, persona, { ...readRoute, scopes: [] }, j).status === 'allowed')
    .map(([id]) => id)
    .sort();
  const got = ((json as { jobs?: Array<{ id: string }> }).jobs ?? [])
    .map((j) => j.id)
    .filter((id) => mine.has(id))
    .sort();
  return JSON.stringify(want) === JSON.stringify(got)
    ? undefined
    : `listed ${got.length} jobs, expected ${want.length}`;
}

/** Parameters that pass a command's own schema, so its per-command rules (the reason of `immobilize`) apply. */
const COMMAND_PARAMS: Record<string, unknown> = {
  climate: { on: true },
  charge_limit: { percent: 80 },
  immobilize: { reason: 'authorization matrix: per-command probe' },
};

/**
 * One per-command cell: `vehicle:command` with the command in the body, so the decision is the real one (the
 * delegated commands, the dealer's diagnostics, the security admin's immobilize, the command's own scope, the
 * step-up guardrail). The probe query still stops an allowed request at validation, after authorization and
 * before any job exists; that 400 is this cell's "allowed", since the decision it shows is the complete one.
 */
export async function runCommandCell(
  phase: string,
  world: World,
  caller: Caller,
  persona: string,
  route: MatrixRoute,
  obj: { key: string; id: string },
  command: (typeof COMMAND_CATALOG)[keyof typeof COMMAND_CATALOG],
  variant: { reason?: false } = {},
): Promise<Cell> {
  const facts = { ...command, ...variant };
  const ask = () => expectCommand(world, persona, route, facts, obj.key);
  const exp = ask();
  const params = variant.reason === false ? undefined : COMMAND_PARAMS[command.name];
  const res = await caller.api('POST', `${route.path.replace('{id}', obj.id)}?${PROBE}`, {
    command: command.name,
    ...(params ? { params } : {}),
  });
  const problem = res.json as { code?: string; detail?: string } | null;
  // Only the probe's own query may stop it: any other 400 would be a check this cell did not mean to reach.
  const probeStopped = res.status === 400 && problem?.code === 'ERR_VALIDATION' && /quer/i.test(res.text);
  const observed: Cell['observed'] = probeStopped ? 'allowed' : res.status;
  const unexpected = observed !== exp.status && observed !== ask().status;
  return {
    phase,
    persona,
    action: route.action,
    route: routeKey(route),
    object: obj.key,
    command: variant.reason === false ? `${command.name} (no reason)` : command.name,
    expected: exp.status,
    observed,
    relations: exp.relations,
    unexpected,
    unreached: false,
    ...(unexpected && res.status === 400 ? { note: (problem?.detail ?? '').slice(0, 120) } : {}),
  };
}

/** One real job read by one persona: job-level visibility, judged by the job rules of the oracle. */
export async function runJobCell(
  phase: string,
  world: World,
  ids: Ids,
  caller: Caller,
  persona: string,
  route: MatrixRoute,
  job: World['jobs'][number],
): Promise<Cell> {
  const ask = () => expectJobRead(world, persona, route, job);
  const exp = ask();
  const vehicleId = ids.vehicles.get(job.vehicle) as string;
  const res = await caller.api(
    'GET',
    route.path.replace('{id}', vehicleId).replace('{job}', ids.objects.get(job.key) as string),
  );
  const observed: Cell['observed'] = res.status === 200 ? 'allowed' : res.status;
  const unexpected = observed !== exp.status && observed !== ask().status;
  return {
    phase,
    persona,
    action: route.action,
    route: routeKey(route),
    object: job.key,
    expected: exp.status,
    observed,
    relations: exp.relations,
    unexpected,
    unreached: false,
  };
}

/**
 * Real jobs for the job cells: every persona the oracle lets lock a vehicle asks for one `lock` (the vehicles are
 * not connected, so each job waits queued or is rejected by the conflict rule; either way it exists and is read).
 */
export async function createJobs(world: World, ids: Ids, callers: Map<string, Caller>): Promise<Cell[]> {
  const refused: Cell[] = [];
  const route = MATRIX_ROUTES.find((r) => r.action === 'vehicle:command' && r.object === 'vehicle') as MatrixRoute;
  for (const [vehicle, vehicleId] of ids.vehicles)
    for (const persona of world.personas.keys()) {
      if (expectCommand(world, persona, route, COMMAND_CATALOG.lock, vehicle).status !== 'allowed') continue;
      const caller = callers.get(persona) as Caller;
      const res = await caller.api(
        'POST',
        `/v1/vehicles/${vehicleId}/commands`,
        { command: 'lock' },
        {
          'idempotency-key': randomUUID(),
        },
      );
      const body = res.json as { id?: string; job?: string } | null;
      const id = res.status === 202 ? body?.id : res.status === 409 ? body?.job : undefined;
      // A refusal where the oracle allows is an unexpected cell like any other (a broken policy), not a crash.
      if (!id) {
        refused.push({
          phase: 'seeded',
          persona,
          action: route.action,
          route: routeKey(route),
          object: vehicle,
          command: 'lock',
          expected: 'allowed',
          observed: res.status,
          relations: [],
          unexpected: true,
          unreached: false,
          note: `making a real job: ${res.text.slice(0, 120)}`,
        });
        continue;
      }
      const key = `job#${vehicle}#${persona}`;
      world.jobs.push({ key, vehicle, requester: persona, createdAt: world.now() });
      ids.objects.set(key, id);
    }
  return refused;
}
