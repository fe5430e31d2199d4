import type { webcrypto } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import { CarapaceClient, DpopKey } from '../client/index.js';
import { currentTotp } from '../identity/index.js';
import { type CheckReport, Tally } from './report.js';
import { observed, type ProbeSession } from './session.js';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;

/**
 * Forged and confused access tokens against `GET /v1/me`, each with a valid DPoP proof of the victim's key for
 * that token, so that only the token is wrong: every one must answer 401. A genuine call first shows the route
 * answers 200, or the variants would prove nothing.
 */
export async function tokenForgery(s: ProbeSession): Promise<CheckReport> {
  const t = new Tally('token-forgery');
  const victimKey = [...s.callers.keys()].find((k) => s.person(k)?.tokens);
  const victim = victimKey ? s.person(victimKey) : null;
  if (!victimKey || !victim?.tokens) {
    t.skip('no person signed in: nothing to forge from');
    return t.report();
  }
  const url = `${s.baseUrl}/v1/me`;
  const genuine = victim.tokens.accessToken;
  const call = async (token: string, opts: { scheme?: string; proofKey?: DpopKey; noProof?: boolean } = {}) =>
    s.raw(url, {
      headers: {
        authorization: `${opts.scheme ?? 'DPoP'} ${token}`,
        ...(opts.noProof ? {} : { dpop: await (opts.proofKey ?? victim.dpop).proof('GET', url, token) }),
      },
    });
  const control = await call(genuine);
  if (control.status !== 200) {
    t.skip(`the genuine token of ${victimKey} answered ${observed(control)} on GET /v1/me: variants not sent`);
    return t.report();
  }
  const [h, p, sig] = genuine.split('.') as [string, string, string];
  const header = decode(h);
  const payload = decode(p);
  const jwks = (await s.raw(`${s.baseUrl}/oauth/jwks`)).json as { keys?: JWK[] } | null;
  const serverJwk = jwks?.keys?.find((k) => k.kid === header.kid) ?? jwks?.keys?.[0];
  const attacker = await generateKeyPair('ES256', { extractable: true });
  const now = Math.floor(Date.now() / 1000);
  const otherSub = [...s.ids.users].find(([k]) => k !== victimKey)?.[1] ?? 'someone-else';
  const signed = (claims: Record<string, unknown>, hdr: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', ...hdr }).sign(attacker.privateKey);

  const variants: Array<[string, () => Promise<string | null>]> = [
    ['alg none', async () => `${b64({ ...header, alg: 'none' })}.${p}.`],
    ['stripped signature', async () => `${h}.${p}.`],
    ['tampered payload (another subject)', async () => `${h}.${b64({ ...payload, sub: otherSub })}.${sig}`],
    [
      'tampered payload (more scopes)',
      async () => `${h}.${b64({ ...payload, scope: 'security:admin fleet:admin' })}.${sig}`,
    ],
    ['kid swap (attacker key, server kid)', () => signed(payload, { typ: 'at+jwt', kid: header.kid })],
    [
      'embedded jwk (attacker key in the header)',
      async () => signed(payload, { typ: 'at+jwt', jwk: await exportJWK(attacker.publicKey) }),
    ],
    ['wrong issuer (re-signed)', () => signed({ ...payload, iss: 'https://attacker.example/oauth' }, { ...header })],
    ['expired (re-signed)', () => signed({ ...payload, iat: now - 7200, exp: now - 3600 }, { ...header })],
    [
      'HS256 keyed with the public key',
      async () => {
        if (!serverJwk) return null;
        const pem = await exportSPKI((await importJWK(serverJwk, 'ES256')) as webcrypto.CryptoKey);
        return new SignJWT(payload).setProtectedHeader({ ...header, alg: 'HS256' }).sign(new TextEncoder().encode(pem));
      },
    ],
    ['id token as access token (wrong audience)', async () => victim.tokens?.idToken ?? null],
    ['refresh token as access token', () => refreshToken(s)],
  ];
  for (const [attack, make] of variants) {
    const token = await make();
    if (!token) {
      t.skip(`${attack}: the target gave nothing to build it from`);
      continue;
    }
    const res = await call(token);
    t.record(res.status === 401, {
      attack,
      persona: victimKey,
      request: 'GET /v1/me',
      expected: '401',
      observed: observed(res),
    });
  }
  const thief = await DpopKey.generate();
  const stolen: Array<[string, () => Promise<typeof control>]> = [
    ['genuine token, proof of another DPoP key', () => call(genuine, { proofKey: thief })],
    ['DPoP-bound token sent as Bearer', () => call(genuine, { scheme: 'Bearer', noProof: true })],
    ['DPoP-bound token without a proof', () => call(genuine, { noProof: true })],
    [
      'proof with the ath of another token',
      async () =>
        s.raw(url, {
          headers: { authorization: `DPoP ${genuine}`, dpop: await victim.dpop.proof('GET', url, `${genuine}x`) },
        }),
    ],
  ];
  for (const [attack, send] of stolen) {
    const res = await send();
    t.record(res.status === 401, {
      attack,
      persona: victimKey,
      request: 'GET /v1/me',
      expected: '401',
      observed: observed(res),
    });
  }
  return t.report();
}

/**
 * A refresh token of a password-only person (a second sign-in of someone with a second factor would reuse the TOTP
 * code the first sign-in spent): the owner app's `offline_access`.
 */
async function refreshToken(s: ProbeSession): Promise<string | null> {
  const user = s.target.scenario.users.find((u) => !u.totp && s.world.personas.get(u.key)?.kind === 'person');
  const persona = user && s.world.personas.get(user.key);
  if (!user || !persona) return null;
  const client = await CarapaceClient.create({
    baseUrl: s.baseUrl,
    ca: s.target.ca,
    clientId: persona.clientId,
    redirectUri: 'http://127.0.0.1/callback',
  });
  const totp = user.totp;
  await client.login({
    email: user.email,
    password: user.password,
    scopes: ['openid', 'offline_access', ...persona.scopes],
    ...(totp ? { totp: () => currentTotp(totp, new Date()) } : {}),
  });
  return client.tokens?.refreshToken ?? null;
}
