import { type CheckReport, Tally } from './report.js';
import { inParallel, OBJECT_ROUTES, objectsOf, requestOf, ruleFor, sendOn } from './object-cells.js';
import { observed, reachedHandler, type ProbeSession } from './session.js';

/**
 * Broken object-level authorization: every persona against every object of the scenario it must not reach (another
 * owner's or tenant's vehicles, their delegations, grants, cases, groups), on every route that names one object.
 * What "must not" means comes from the product rules (the matrix's oracle), never from the target's policies. A
 * finding is an answer that reached the handler: a 200, or the probe's deliberate 400 on a state-changing route.
 */
export async function bola(s: ProbeSession): Promise<CheckReport> {
  const t = new Tally('bola');
  const tasks: Array<() => Promise<void>> = [];
  for (const route of OBJECT_ROUTES)
    for (const object of objectsOf(s, route))
      for (const persona of s.callers.keys()) {
        const rule = ruleFor(s, persona, route, object);
        if (rule.allowed) continue;
        tasks.push(async () => {
          const res = await sendOn(s, persona, route, object);
          t.record(!reachedHandler(res), {
            attack: `${route.action} on an object out of reach`,
            persona,
            request: requestOf(route, object),
            expected: String(rule.status),
            observed: observed(res),
          });
        });
      }
  await inParallel(tasks);
  return t.report();
}
