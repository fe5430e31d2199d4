import { randomUUID } from 'node:crypto';
import { type Expectation, expectedAccess, MATRIX_ROUTES, type MatrixRoute, NO_JOB } from '../authz-matrix/index.js';
import type { ClientResponse } from '../client/index.js';
import type { ProbeSession } from './session.js';

/** A scenario object a route can name: its scenario key and its id on the target. */
export interface ProbeObject {
  key: string;
  id: string;
}

/** The object kinds the object-level checks attack (pairs, the caller itself and the platform are not objects). */
const KINDS = new Set(['vehicle', 'tenant', 'group', 'delegation', 'partnerGrant', 'serviceCase', 'supportCase']);

/** The routes that act on one object named in the path, from the matrix's hand-written list. */
export const OBJECT_ROUTES: readonly MatrixRoute[] = MATRIX_ROUTES.filter((r) => KINDS.has(r.object));

/** The resolved objects of a route's kind on the target. */
export function objectsOf(s: ProbeSession, route: MatrixRoute): ProbeObject[] {
  const fromMap = (m: Map<string, string>) => [...m].map(([key, id]) => ({ key, id }));
  const keyed = (keys: string[]) =>
    keys.flatMap((k) => (s.ids.objects.has(k) ? [{ key: k, id: s.ids.objects.get(k) as string }] : []));
  const w = s.world;
  switch (route.object) {
    case 'vehicle':
      return fromMap(s.ids.vehicles);
    case 'tenant':
      return fromMap(s.ids.tenants);
    case 'group':
      return fromMap(s.ids.groups);
    case 'delegation':
      return keyed(w.delegations.map((d) => d.key));
    case 'partnerGrant':
      return keyed(w.partnerGrants.map((g) => g.key));
    case 'serviceCase':
      return keyed(w.serviceCases.map((c) => c.key));
    case 'supportCase':
      return keyed(w.supportCases.map((c) => c.key));
    case 'account':
    case 'groupMember':
    case 'groupVehicle':
    case 'invite':
    case 'platform':
    case 'self':
      return [];
  }
}

/** What the product rules say `persona` may do with the object (the matrix's oracle, written from DESIGN.md). */
export function ruleFor(s: ProbeSession, persona: string, route: MatrixRoute, object: ProbeObject): Expectation {
  return expectedAccess(s.world, persona, route, object.key);
}

/** A random id that names nothing on the target. */
export const ghost = (): ProbeObject => ({ key: 'ghost', id: randomUUID() });

/**
 * Sends one route on one object as `persona`. A state-changing route carries an unknown query parameter: the
 * framework authorizes before it validates, so an authorized caller gets 400 ERR_VALIDATION and nothing changes.
 */
export function sendOn(
  s: ProbeSession,
  persona: string,
  route: MatrixRoute,
  object: ProbeObject,
): Promise<ClientResponse> {
  const path = route.path.replace('{id}', object.id).replace('{job}', NO_JOB);
  const query = route.mode === 'probe' ? 'carapace-probe=1' : route.query;
  const body = route.mode === 'probe' && route.method !== 'DELETE' ? {} : undefined;
  return s.caller(persona).api(route.method, query ? `${path}?${query}` : path, body);
}

/** The request as a finding prints it. */
export const requestOf = (route: MatrixRoute, object: ProbeObject) =>
  `${route.method} ${route.path.replace('{id}', object.id).replace('{job}', NO_JOB)} (${object.key})`;

/** Runs tasks a few at a time: enough to be quick, few enough not to look like a flood to the target. */
export async function inParallel<T>(tasks: Array<() => Promise<T>>, width = 6): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await (tasks[i] as () => Promise<T>)();
      }
    }),
  );
  return out;
}
