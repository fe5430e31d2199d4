import { randomInt } from 'node:crypto';
import type { ClientResponse } from '../client/index.js';
import { type CheckReport, Tally } from './report.js';
import { ghost, inParallel, OBJECT_ROUTES, objectsOf, requestOf, ruleFor, sendOn } from './object-cells.js';
import { observed, type ProbeSession } from './session.js';

/** An answer without what differs on every request (the request id), so two answers compare byte for byte. */
function shape(res: ClientResponse): string {
  const body = res.json as Record<string, unknown> | null;
  if (!body) return `${res.status} ${res.text}`;
  const { instance: _instance, ...rest } = body;
  return `${res.status} ${JSON.stringify(rest)}`;
}

/**
 * Enumeration oracles: an object the caller may not see must answer exactly like one that does not exist (404 with
 * the same body; no 403-versus-404 difference), on every object route; and a vehicle claim for a VIN that exists
 * must be refused exactly like one for a VIN that does not.
 */
export async function enumeration(s: ProbeSession): Promise<CheckReport> {
  const t = new Tally('enumeration');
  const tasks: Array<() => Promise<void>> = [];
  for (const route of OBJECT_ROUTES.filter((r) => r.mode === 'read'))
    for (const persona of s.callers.keys()) {
      const hidden = objectsOf(s, route).filter((o) => ruleFor(s, persona, route, o).status === 404);
      if (!hidden.length) continue;
      tasks.push(async () => {
        const absent = shape(await sendOn(s, persona, route, ghost()));
        for (const object of hidden) {
          const res = await sendOn(s, persona, route, object);
          t.record(shape(res) === absent, {
            attack: `${route.action}: hidden object answers unlike a missing one`,
            persona,
            request: requestOf(route, object),
            expected: absent.slice(0, 120),
            observed: observed(res),
          });
        }
      });
    }
  await inParallel(tasks);
  await claimOracle(s, t);
  return t.report();
}

/** A wrong claim code for a real VIN and for an invented one: the same refusal, or the claim tells who exists. */
async function claimOracle(s: ProbeSession, t: Tally): Promise<void> {
  const claimant = [...s.world.personas.values()].find((p) => p.scopes.includes('vehicle:claim'));
  const vin = s.target.scenario.vehicles?.[0]?.vin;
  if (!claimant || !vin) {
    t.skip('vehicle claim oracle: no persona with vehicle:claim, or no vehicle in the scenario');
    return;
  }
  const code = 'ZZZZZZZZZZZZZZZZZZZZ';
  const invented = `${vin.slice(0, -6)}${String(randomInt(100_000, 999_999))}`;
  const real = await s.caller(claimant.key).api('POST', '/v1/vehicle-claims', { vin, code });
  const fake = await s.caller(claimant.key).api('POST', '/v1/vehicle-claims', { vin: invented, code });
  t.record(shape(real) === shape(fake), {
    attack: 'vehicle claim with a wrong code tells a real VIN from an invented one',
    persona: claimant.key,
    request: 'POST /v1/vehicle-claims',
    expected: shape(fake).slice(0, 120),
    observed: observed(real),
  });
}
