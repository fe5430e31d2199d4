import { type CheckReport, Tally } from './report.js';
import { observed, type ProbeSession } from './session.js';

/**
 * DPoP proofs used where they were not made for (RFC 9449 section 11): the same proof twice, a proof for another
 * URL, method or origin, a proof without the token hash, a proof issued far before or after now. The genuine first
 * use must answer 200; every replay 401.
 */
export async function dpopReplay(s: ProbeSession): Promise<CheckReport> {
  const t = new Tally('dpop-replay');
  const key = [...s.callers.keys()].find((k) => s.person(k)?.tokens);
  const victim = key ? s.person(key) : null;
  if (!key || !victim?.tokens) {
    t.skip('no person signed in: no proof to replay');
    return t.report();
  }
  const token = victim.tokens.accessToken;
  const url = `${s.baseUrl}/v1/me`;
  const send = (proof: string) => s.raw(url, { headers: { authorization: `DPoP ${token}`, dpop: proof } });
  const once = await victim.dpop.proof('GET', url, token);
  const first = await send(once);
  if (first.status !== 200) {
    t.skip(`a fresh proof of ${key} answered ${observed(first)} on GET /v1/me: replays not sent`);
    return t.report();
  }
  const u = new URL(url);
  const now = () => Math.floor(Date.now() / 1000);
  const attacks: Array<[string, () => Promise<string>]> = [
    ['the same proof a second time', async () => once],
    ['a proof for another path', () => victim.dpop.proof('GET', `${u.origin}/v1/vehicles`, token)],
    ['a proof for another method', () => victim.dpop.proof('POST', url, token)],
    ['a proof for another origin', () => victim.dpop.proof('GET', `https://attacker.example${u.pathname}`, token)],
    ['a proof without the token hash (ath)', () => victim.dpop.proof('GET', url)],
    // RFC 9449 section 11.1: a proof is good for a short window around its iat, so a captured one soon goes stale.
    ['a proof issued 10 minutes ago', () => victim.dpop.proof('GET', url, token, now() - 600)],
    ['a proof issued 10 minutes ahead', () => victim.dpop.proof('GET', url, token, now() + 600)],
  ];
  for (const [attack, make] of attacks) {
    const res = await send(await make());
    t.record(res.status === 401, {
      attack,
      persona: key,
      request: 'GET /v1/me',
      expected: '401',
      observed: observed(res),
    });
  }
  return t.report();
}
