import { type CheckReport, Tally } from './report.js';
import { observed, reachedHandler, type ProbeSession } from './session.js';

/** A function only some roles may call, sent by everyone else. */
interface RoleFunction {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  /** Roles the product rules let call it; every other person and every partner must be refused. */
  roles: string[];
}

const PROBE = 'carapace-probe=1';

/** The role-bound functions of the public API that name no object (object routes are the bola check's). */
const FUNCTIONS: RoleFunction[] = [
  { name: 'open a support case', method: 'POST', path: `/v1/support-cases?${PROBE}`, roles: ['security_admin'] },
  { name: 'list support cases', method: 'GET', path: '/v1/support-cases', roles: ['support_agent', 'security_admin'] },
  {
    name: 'search accounts',
    method: 'GET',
    path: '/v1/support/accounts?email=nobody%40example.com',
    roles: ['support_agent', 'security_admin'],
  },
];

/** Admin-plane routes: never reachable with an API token, nor through the public listener. */
const ADMIN_ROUTES: Array<{ method: 'GET' | 'POST'; path: string }> = [
  { method: 'GET', path: '/admin/v1/inventory' },
  { method: 'GET', path: '/admin/v1/audit-events' },
  { method: 'POST', path: '/admin/v1/revocations' },
  { method: 'GET', path: '/admin/v1/investigations?pivot=vin&value=X' },
];

/**
 * Broken function-level authorization: owner, driver, fleet, dealer and partner tokens against functions of other
 * roles; and the admin plane called with an API token and no operator certificate, on its own listener and
 * through the public one. A finding is any answer that reached the handler.
 */
export async function bfla(s: ProbeSession): Promise<CheckReport> {
  const t = new Tally('bfla');
  for (const f of FUNCTIONS)
    for (const [key, p] of s.world.personas) {
      if (p.roles.some((r) => f.roles.includes(r.role))) continue;
      const res = await s.caller(key).api(f.method, f.path, f.method === 'POST' ? {} : undefined);
      t.record(!reachedHandler(res), {
        attack: `${f.name} without the role`,
        persona: key,
        request: `${f.method} ${f.path}`,
        expected: '403 or 404',
        observed: observed(res),
      });
    }
  const key = [...s.callers.keys()].find((k) => s.person(k)?.tokens);
  const person = key ? s.person(key) : null;
  if (!key || !person?.tokens) {
    t.skip('admin plane with an API token: no person signed in');
    return t.report();
  }
  const planes = [
    ['public listener', s.baseUrl],
    ['admin listener', s.target.adminUrl],
  ] as const;
  for (const [where, origin] of planes) {
    if (!origin) {
      t.skip(`admin routes on the ${where}: no --admin-url given`);
      continue;
    }
    for (const r of ADMIN_ROUTES) {
      const url = `${origin.replace(/\/$/, '')}${r.path}`;
      const res = await s.raw(url, {
        method: r.method,
        headers: {
          authorization: `DPoP ${person.tokens.accessToken}`,
          dpop: await person.dpop.proof(r.method, url, person.tokens.accessToken),
        },
        body: r.method === 'POST' ? { serial: '00', reason: 'keyCompromise' } : undefined,
      });
      t.record(res.status === 0 || [401, 403, 404].includes(res.status), {
        attack: `admin function with an API token on the ${where}`,
        persona: key,
        request: `${r.method} ${r.path}`,
        expected: '401, 403 or 404',
        observed: observed(res),
      });
    }
  }
  return t.report();
}
