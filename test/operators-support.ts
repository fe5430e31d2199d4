import { CookieJar, type ClientResponse, request } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import type { Clock } from '../src/platform/index.js';
import type { OperatorRole } from '../src/operators/index.js';
import type { TestCarapace } from '../src/testing/index.js';

/** A person with an account (password + optional TOTP) and, unless `roles` is empty, an operator entry. */
export interface Person {
  name: string;
  email: string;
  password: string;
  totp: string | null;
}

/** Creates the account and, with roles, the operator. */
export async function addPerson(cp: TestCarapace, name: string, roles: OperatorRole[], mfa = true): Promise<Person> {
  const person = {
    name,
    email: `${name}@operators.example`,
    password: `correct horse ${name}`,
    totp: mfa ? 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' : null,
  };
  const user = await cp.platform.directory.createUser(
    { type: 'system', id: 'seed' },
    { email: person.email, displayName: name, password: person.password, totpSecret: person.totp },
  );
  if (roles.length > 0)
    await cp.platform.operators.directory.add(
      { type: 'system', id: null },
      { name, kind: 'person', ref: user.id, roles },
    );
  return person;
}

/** The outcome of a browser sign-in: the last answer (the callback's) and the browser's cookies. */
export interface SignedIn {
  jar: CookieJar;
  final: ClientResponse;
  /** The session cookie set by the callback, or null when it refused. */
  session: string | null;
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/**
 * Signs in as a browser does: the admin plane's sign-in redirects to the authorization server, whose pages take
 * the password and the one-time code and the consent, and the browser lands on the admin plane's callback.
 */
export async function signIn(cp: TestCarapace, person: Person, clock: Clock): Promise<SignedIn> {
  const jar = new CookieJar();
  let sessionCookie: string | null = null;
  const keep = (res: ClientResponse) => {
    jar.store(res.headers['set-cookie']);
    const set = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    const line = set.find((l) => l.startsWith('__Host-carapace-operator='));
    if (line) sessionCookie = line.slice(line.indexOf('=') + 1).split(';')[0] ?? null;
    return res;
  };
  let url = `${cp.addresses.admin}/admin/v1/operator-sign-in`;
  for (let hop = 0; hop < 16; hop++) {
    const res = keep(await request(url, { ca: cp.ca, jar }));
    if (new URL(url).pathname === '/admin/v1/operator-sign-in/callback')
      return { jar, final: res, session: sessionCookie };
    const location = res.headers.location;
    if (res.status >= 300 && res.status < 400 && typeof location === 'string') {
      url = new URL(location, url).href;
      continue;
    }
    const uid = /\/interaction\/([A-Za-z0-9_-]+)/.exec(url)?.[1];
    if (res.status !== 200 || !uid) throw new Error(`unexpected ${res.status} at ${url}: ${res.text.slice(0, 200)}`);
    const base = `${cp.config.publicBaseUrl}/interaction/${uid}`;
    const login = res.text.includes(`action="/interaction/${uid}/login"`);
    const body = login
      ? form({
          email: person.email,
          password: person.password,
          ...(person.totp ? { totp: currentTotp(person.totp, clock.now()) } : {}),
        })
      : '';
    const step = keep(
      await request(`${base}/${login ? 'login' : 'confirm'}`, { ca: cp.ca, jar, method: 'POST', headers: FORM, body }),
    );
    const next = step.headers.location;
    if (typeof next !== 'string') throw new Error(`sign-in page answered ${step.status}: ${step.text.slice(0, 200)}`);
    url = new URL(next, base).href;
  }
  throw new Error('the sign-in did not reach the callback');
}

/** A console request: the session cookie and (unless `csrf` is false) the console header. */
export function consoleCall(
  cp: TestCarapace,
  session: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  csrf = true,
): Promise<ClientResponse> {
  return request(`${cp.addresses.admin}${path}`, {
    ca: cp.ca,
    method,
    headers: {
      cookie: `__Host-carapace-operator=${session}`,
      ...(csrf ? { 'x-carapace-console': '1' } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** The problem type's last segment (`elevation-required`) and the code of a problem answer. */
export function problemOf(res: { json: unknown }): { type: string; code: string } {
  const p = (res.json ?? {}) as { type?: string; code?: string };
  return {
    type:
      String(p.type ?? '')
        .split(':')
        .pop() ?? '',
    code: String(p.code ?? ''),
  };
}
