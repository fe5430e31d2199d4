import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { exportJWK, importJWK, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_FOR_ROLE } from '../src/authz-matrix/index.js';
import { CarapaceClient, type ClientResponse } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { readScenario } from '../src/server/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';

/**
 * Issue 11, items 1-7: the holes outside testing found in accounts and tokens, each reproduced as reported
 * over real HTTP/TLS, on SQLite and PostgreSQL.
 */
const scenario = readScenario('scenarios/demo.yaml');

/** One request with every header and the request target exactly as given (Host, absolute-form, …). */
function send(
  base: string,
  target: string,
  options: { ca: string; method?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: Record<string, unknown>; body: string; json: unknown }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: u.hostname,
        port: u.port,
        path: target,
        method: options.method ?? 'GET',
        ca: options.ca,
        agent: false,
        servername: 'localhost',
        headers: options.headers ?? {},
        setHost: !(options.headers && 'host' in options.headers),
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          let json: unknown = null;
          try {
            json = JSON.parse(body);
          } catch {
            json = null;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
        });
      },
    );
    req.on('error', reject);
    if (options.body) req.write(options.body);
    req.end();
  });
}

describe.each(testEngines())('accounts and tokens after the outside test (%s)', (database) => {
  let cp: TestCarapace;
  let base = '';
  const vehicles = new Map<string, string>();
  const vid = (key: string) => vehicles.get(key) as string;

  /** A fresh sign-in of a persona through the app their role uses (never cached: tests end sessions). */
  const signIn = async (key: string, password?: string): Promise<CarapaceClient> => {
    const u = scenario.users.find((x) => x.key === key);
    if (!u) throw new Error(`no persona ${key}`);
    const clientId = APP_FOR_ROLE[u.memberships[0]?.role ?? 'owner'] as string;
    const scopes = scenario.applications?.find((a) => a.clientId === clientId)?.scopes ?? [];
    const c = await CarapaceClient.create({
      baseUrl: base,
      ca: cp.ca,
      clientId,
      redirectUri: 'http://127.0.0.1/callback',
    });
    const totp = u.totp;
    await c.login({
      email: u.email,
      password: password ?? u.password,
      scopes,
      ...(totp ? { totp: () => currentTotp(totp, new Date()) } : {}),
    });
    return c;
  };
  const json = <T>(r: ClientResponse) => r.json as T;

  beforeAll(async () => {
    cp = await startTestCarapace({ database, overrides: { seedDemo: true } });
    base = cp.config.publicBaseUrl;
    const rows = await cp.platform.storage.db.selectFrom('vehicles').select(['id', 'vin']).execute();
    for (const v of scenario.vehicles ?? []) vehicles.set(v.key, rows.find((r) => r.vin === v.vin)?.id as string);
  }, 120_000);
  afterAll(async () => cp?.stop());

  it('item 3: refuses a forged Host, and pins discovery and client-assertion audiences to publicBaseUrl', async () => {
    const discovery = '/oauth/.well-known/openid-configuration';
    const forged = await send(base, discovery, { ca: cp.ca, headers: { host: 'evil.example' } });
    expect(forged.status).toBe(421);
    expect(forged.json).toMatchObject({ code: 'ERR_MISDIRECTED_REQUEST' });
    expect(forged.body).not.toContain('evil.example/');
    for (const host of ['evil.example', `localhost:${new URL(base).port}.evil.example`, '']) {
      const res = await send(base, '/v1/me', { ca: cp.ca, headers: { host } });
      expect(res.status, host).toBe(421);
    }
    const genuine = await send(base, discovery, { ca: cp.ca });
    expect(genuine.status).toBe(200);
    expect(genuine.headers['cache-control']).toBe('no-store');
    const meta = genuine.json as Record<string, unknown>;
    const urls = Object.values(meta).filter((v): v is string => typeof v === 'string' && v.startsWith('http'));
    expect(urls.length).toBeGreaterThan(3);
    for (const url of urls) expect(url.startsWith(`${base}/oauth`), url).toBe(true);
    // Probes address the node itself.
    expect((await send(base, '/healthz', { ca: cp.ca, headers: { host: '10.0.0.7' } })).status).toBe(200);

    // A partner's private_key_jwt assertion minted for another origin is refused, Host forged or not.
    const clientId = 'insights-readonly';
    const jwk = JSON.parse(
      readFileSync(join(cp.config.dataDir, 'demo', `${clientId}.private.jwk.json`), 'utf8'),
    ) as JWK;
    const assertion = async (aud: string) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: jwk.kid as string })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(aud)
        .setJti(crypto.randomUUID())
        .setIssuedAt()
        .setExpirationTime('60s')
        .sign(await importJWK(jwk, 'ES256'));
    const tokenRequest = async (aud: string, host?: string) =>
      send(base, '/oauth/token', {
        ca: cp.ca,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(host ? { host } : {}) },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: await assertion(aud),
          scope: 'vehicle:read_status',
          resource: 'urn:carapace:api',
        }).toString(),
      });
    const evil = await tokenRequest('https://evil.example/oauth/token', 'evil.example');
    expect(evil.status).toBe(421);
    expect(evil.body).not.toContain('access_token');
    const evilAud = await tokenRequest('https://evil.example/oauth/token');
    expect(evilAud.status).toBe(401);
    expect(evilAud.json).toMatchObject({ error: 'invalid_client' });
    void exportJWK;
  });

  it('item 6: an absolute-form request target gets a 400 problem, not a 500', async () => {
    const dana = await signIn('dana');
    const token = dana.tokens!.accessToken;
    for (const target of [
      `${base}/v1/me`,
      'https://evil.example/v1/me',
      `${base}/oauth/.well-known/openid-configuration`,
    ]) {
      const res = await send(base, target, {
        ca: cp.ca,
        headers: { authorization: `DPoP ${token}`, dpop: await dana.dpop.proof('GET', `${base}/v1/me`, token) },
      });
      expect(res.status, target).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json).toMatchObject({ code: 'ERR_BAD_REQUEST' });
    }
    expect((await dana.api('GET', '/v1/me')).status).toBe(200);
  });

  it('item 6: a token pasted into a free-text reason is redacted in the audit trail, and the action stands', async () => {
    const alice = await signIn('alice');
    const dana = await signIn('dana');
    const until = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const invited = await alice.api('POST', `/v1/vehicles/${vid('alice-car')}/delegations`, {
      email: 'dana@example.com',
      commands: ['horn_lights'],
      validUntil: until,
    });
    expect(invited.status).toBe(201);
    const { invite, code } = json<{ invite: { id: string }; code: string }>(invited);
    // A JWT-shaped string, short enough for the reason field (the whole access token is longer than 500).
    const pasted = 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    const withdrawn = await alice.api('POST', `/v1/delegation-invites/${invite.id}/revoke`, {
      reason: `sent by mistake, see ${pasted}`,
    });
    expect(withdrawn.status).toBe(200);
    // The withdrawal was not rolled back: the code is dead.
    expect((await dana.api('POST', `/v1/delegation-invites/${invite.id}/accept`, { code })).status).toBe(404);
    const [event] = await cp.platform.audit.list({
      type: 'relationships.delegation.invite_withdrawn',
      objectId: invite.id,
    });
    expect(event).toBeDefined();
    expect(JSON.stringify(event)).not.toContain('eyJ');
    expect(JSON.stringify(event)).toContain('redacted');
  });
});
