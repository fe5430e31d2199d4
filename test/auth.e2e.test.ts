import { createHash, createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateSigningKeys } from '../src/auth/index.js';
import { createClusterReplayStore } from '../src/auth/index.js';
import { createCluster } from '../src/cluster/index.js';
import { createLogger } from '../src/platform/index.js';
import {
  CarapaceClient,
  CarapaceClientError,
  clientCredentialsToken,
  CookieJar,
  deviceToken,
  DpopKey,
  request,
} from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { certificateThumbprint } from '../src/pki/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';

const ALICE = { email: 'alice@example.com', password: 'demo-alice-password', totpSecret: 'JBSWY3DPEHPK3PXPALICE234' };
const OWNER_APP = { clientId: 'carapace-owner-app', redirectUri: 'http://127.0.0.1/callback' };

describe.each(testEngines())('identities and tokens on %s', (engine) => {
  let cp: TestCarapace;
  let base: string;
  let signingKey: JWK;

  beforeAll(async () => {
    cp = await startTestCarapace({ database: engine, overrides: { seedDemo: true } });
    base = cp.config.publicBaseUrl;
    const current = await cp.platform.storage.db
      .selectFrom('token_signing_keys')
      .select('kid')
      .where('status', '=', 'current')
      .executeTakeFirstOrThrow();
    signingKey = JSON.parse(
      readFileSync(join(cp.config.dataDir, 'pki', 'token-signing', `${current.kid}.private.jwk.json`), 'utf8'),
    ) as JWK;
  });
  afterAll(async () => {
    await cp.stop();
  });

  const client = () => CarapaceClient.create({ baseUrl: base, ca: cp.ca, ...OWNER_APP });
  /** Password-only personas sign in as often as a test needs; a TOTP code works once (see the MFA tests). */
  const loginAs = async (
    who: 'dana' | 'oscar' | 'derek' = 'dana',
    scopes = ['openid', 'offline_access', 'vehicle:read_status'],
  ) => {
    const email = { dana: 'dana@example.com', oscar: 'oscar@northwind.example', derek: 'derek@mainstreet.example' }[
      who
    ];
    const c = await client();
    await c.login({ email, password: `demo-${who}-password`, scopes });
    return c;
  };
  const loginAlice = () => loginAs('dana');
  /** Calls /v1/me with a given access token and a valid DPoP proof from `dpop`. */
  const me = async (token: string, dpop: DpopKey, scheme = 'DPoP') =>
    request(`${base}/v1/me`, {
      ca: cp.ca,
      headers: { authorization: `${scheme} ${token}`, dpop: await dpop.proof('GET', `${base}/v1/me`, token) },
    });
  const expectRefused = async (
    res: { status: number; headers: Record<string, unknown>; json: unknown },
    reason: RegExp | string,
  ) => {
    expect(res.status).toBe(401);
    expect(String(res.headers['www-authenticate'])).toMatch(/error="invalid_(token|dpop_proof)"/);
    expect(res.json).toMatchObject({ code: 'ERR_TOKEN_INVALID' });
    const [event] = await cp.platform.audit.list({
      type: 'auth.token.refused',
      requestId: String(res.headers['x-request-id']),
    });
    expect(event?.reason).toMatch(reason);
    expect(JSON.stringify(event)).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
  };
  /** A token signed with our real signing key, to prove checks other than the signature hold. */
  const forge = async (claims: Record<string, unknown>, header: Record<string, unknown> = {}) => {
    const key = await importJWK(signingKey, 'ES256');
    const jwt = new SignJWT({
      client_id: OWNER_APP.clientId,
      scope: 'vehicle:read_status',
      jti: randomUUID(),
      ...claims,
    }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: signingKey.kid, ...header });
    return jwt.sign(key);
  };

  it('signs a person in with password and TOTP through the real pages, and /v1/me shows MFA', async () => {
    const c = await client();
    await c.login({
      ...ALICE,
      totp: () => currentTotp(ALICE.totpSecret, new Date()),
      scopes: ['openid', 'offline_access', 'vehicle:read_status'],
    });
    const claims = decodeJwt(c.tokens!.accessToken);
    expect(decodeProtectedHeader(c.tokens!.accessToken)).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    expect(claims).toMatchObject({
      iss: `${base}/oauth`,
      aud: 'urn:carapace:api',
      client_id: OWNER_APP.clientId,
      acr: 'urn:carapace:acr:mfa',
      cnf: { jkt: expect.any(String) },
    });
    expect(Number(claims.exp) - Number(claims.iat)).toBeLessThanOrEqual(600);
    const res = await c.api('GET', '/v1/me');
    expect(res.json).toMatchObject({
      email: ALICE.email,
      memberships: [{ role: 'owner', tenantKind: 'consumer' }],
      session: { acr: 'urn:carapace:acr:mfa', binding: 'dpop', authTime: expect.any(Number) },
    });
  });

  it('marks a password-only login with the password acr', async () => {
    const c = await client();
    await c.login({
      email: 'dana@example.com',
      password: 'demo-dana-password',
      scopes: ['openid', 'vehicle:read_status'],
    });
    expect((await c.api('GET', '/v1/me')).json).toMatchObject({ session: { acr: 'urn:carapace:acr:pwd' } });
  });

  it('refuses a login without the TOTP code of an MFA account, and a reused code', async () => {
    const c = await client();
    await expect(c.login({ ...ALICE, scopes: ['openid'] })).rejects.toBeInstanceOf(CarapaceClientError);
    const code = currentTotp(ALICE.totpSecret, new Date());
    const first = await client();
    await first.login({ ...ALICE, totp: code, scopes: ['openid'] }).catch(() => undefined);
    await expect((await client()).login({ ...ALICE, totp: code, scopes: ['openid'] })).rejects.toMatchObject({
      status: 401,
    });
  });

  it('refuses scopes not registered for the application', async () => {
    const c = await client();
    await expect(
      c.login({
        email: 'oscar@northwind.example',
        password: 'demo-oscar-password',
        scopes: ['openid', 'vehicle:read_status', 'fleet:admin'],
      }),
    ).rejects.toThrow(/invalid_scope/);
  });

  it('refuses forged and misused access tokens, auditing each by jti only', async () => {
    const c = await loginAs('derek', ['openid', 'vehicle:read_status']);
    const good = c.tokens!.accessToken;
    const jkt = (decodeJwt(good).cnf as { jkt: string }).jkt;
    const valid = {
      iss: `${base}/oauth`,
      aud: 'urn:carapace:api',
      sub: decodeJwt(good).sub as string,
      cnf: { jkt },
      cep: 0,
      iat: Math.floor(Date.now() / 1000),
      exp: Math.floor(Date.now() / 1000) + 300,
    };
    const [h, p] = good.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${p}.`;
    await expectRefused(await me(none, c.dpop), /alg|invalid|unsupported/);
    // HS256 keyed with the public key: the classic RS/HS confusion.
    const hsHeader = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid: signingKey.kid })).toString(
      'base64url',
    );
    const publicJwk = JSON.stringify({ kty: signingKey.kty, crv: signingKey.crv, x: signingKey.x, y: signingKey.y });
    const hs = `${hsHeader}.${p}.${createHmac('sha256', publicJwk).update(`${hsHeader}.${p}`).digest('base64url')}`;
    await expectRefused(await me(hs, c.dpop), /alg|invalid|unsupported/);
    await expectRefused(await me(`${h}.${p}.`, c.dpop), /signature|invalid/);
    await expectRefused(
      await me(await forge({ ...valid, iss: 'https://evil.example/oauth' }), c.dpop),
      /claim_validation_failed|iss/,
    );
    await expectRefused(
      await me(await forge({ ...valid, aud: 'urn:carapace:telemetry' }), c.dpop),
      /claim_validation_failed|aud/,
    );
    await expectRefused(
      await me(await forge({ ...valid, iat: valid.iat - 900, exp: valid.iat - 600 }), c.dpop),
      /expired/,
    );
    const { exp: _exp, ...noExp } = valid;
    await expectRefused(await me(await forge(noExp), c.dpop), /claim_validation_failed|missing/);
    await expectRefused(await me(await forge(valid, { typ: 'JWT' }), c.dpop), /claim_validation_failed|typ/);
    // A key we do not have, whether named by kid, embedded as jwk, or pointed to by jku.
    const attacker = await generateKeyPair('ES256');
    const attackerJwk = await exportJWK(attacker.publicKey);
    for (const header of [
      { kid: 'attacker' },
      { kid: undefined, jwk: attackerJwk },
      { kid: 'attacker', jku: 'https://evil.example/jwks' },
    ]) {
      const t = await new SignJWT({
        ...valid,
        client_id: OWNER_APP.clientId,
        scope: 'vehicle:read_status',
        jti: randomUUID(),
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', ...header })
        .sign(attacker.privateKey);
      await expectRefused(await me(t, c.dpop), /no_matching_key|jwks|invalid/);
    }
    // Our own key, every check right, is accepted: the refusals above are not a broken verifier.
    expect((await me(await forge(valid), c.dpop)).status).toBe(200);
  });

  it(
    "refuses an id_token, a token as Bearer, another key's proof, a replayed proof, and a proof for another " +
      'request',
    async () => {
      const c = await loginAlice();
      const token = c.tokens!.accessToken;
      await expectRefused(await me(c.tokens!.idToken as string, c.dpop), /typ|claim|aud|invalid/);
      await expectRefused(
        await request(`${base}/v1/me`, { ca: cp.ca, headers: { authorization: `Bearer ${token}` } }),
        'dpop_token_as_bearer',
      );
      await expectRefused(await me(token, await DpopKey.generate()), 'dpop_key_mismatch');
      const proof = await c.dpop.proof('GET', `${base}/v1/me`, token);
      const call = () =>
        request(`${base}/v1/me`, { ca: cp.ca, headers: { authorization: `DPoP ${token}`, dpop: proof } });
      expect((await call()).status).toBe(200);
      await expectRefused(await call(), 'dpop_proof_replayed');
      const wrongUrl = await c.dpop.proof('GET', `${base}/v1/elsewhere`, token);
      await expectRefused(
        await request(`${base}/v1/me`, { ca: cp.ca, headers: { authorization: `DPoP ${token}`, dpop: wrongUrl } }),
        'dpop_wrong_request',
      );
    },
  );

  it('rotates refresh tokens and revokes the whole grant when an old one is reused', async () => {
    const c = await loginAs('oscar');
    const first = c.tokens!.refreshToken as string;
    const second = (await c.refresh()).refreshToken as string;
    expect(second).not.toBe(first);
    await expect(c.refresh(first)).rejects.toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    await expect(c.refresh(second)).rejects.toMatchObject({ body: { error: 'invalid_grant' } });
  });

  it('revokes a refresh token at the revocation endpoint', async () => {
    const c = await loginAlice();
    await c.revoke();
    await expect(c.refresh()).rejects.toMatchObject({ body: { error: 'invalid_grant' } });
  });

  it('kills access and refresh tokens when the password changes', async () => {
    const c = await client();
    await c.login({
      email: 'frank@example.com',
      password: 'demo-frank-password',
      scopes: ['openid', 'offline_access', 'vehicle:read_status'],
    });
    await c.refresh();
    expect((await c.api('GET', '/v1/me')).status).toBe(200);
    const frank = await cp.platform.directory.findUserByEmail('frank@example.com');
    await cp.platform.directory.changePassword(
      { type: 'user', id: frank!.id },
      frank!.id,
      'a brand new frank password',
    );
    await expectRefused(await c.api('GET', '/v1/me'), 'credentials_changed');
    await expect(c.refresh()).rejects.toMatchObject({ body: { error: 'invalid_grant' } });
  });

  it('answers unknown users and wrong passwords alike, and locks an account after repeated failures', async () => {
    const attempt = async (email: string, password: string) => {
      const c = await client();
      return c.login({ email, password, scopes: ['openid'] }).then(
        () => 'ok',
        (e: CarapaceClientError) => `${e.status}:${e.message}`,
      );
    };
    const unknown = await attempt('nobody@example.com', 'whatever-password');
    const wrong = await attempt('carl@contoso.example', 'not-carls-password');
    expect(unknown).toBe(wrong);
    for (let i = 0; i < 5; i++) await attempt('sue@carapace.example', 'wrong-password-guess');
    const locked = await attempt('sue@carapace.example', 'demo-sue-password');
    expect(locked).toBe(wrong);
    const failures = await cp.platform.audit.list({ type: 'auth.login.failed', limit: 50 });
    expect(failures.some((e) => e.reason === 'throttled')).toBe(true);
  });

  it('requires PKCE S256 and an exactly registered redirect URI', async () => {
    const authorize = (params: Record<string, string>) =>
      request(
        `${base}/oauth/auth?${new URLSearchParams({ client_id: OWNER_APP.clientId, response_type: 'code', scope: 'openid', state: 's', ...params })}`,
        { ca: cp.ca },
      );
    const noPkce = await authorize({ redirect_uri: OWNER_APP.redirectUri });
    expect(String(noPkce.headers.location ?? noPkce.text)).toMatch(/error=invalid_request|code_challenge/);
    const plain = await authorize({
      redirect_uri: OWNER_APP.redirectUri,
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'plain',
    });
    expect(String(plain.headers.location ?? plain.text)).toMatch(/error=invalid_request|code_challenge_method/);
    const otherRedirect = await authorize({
      redirect_uri: 'http://127.0.0.1/callback/evil',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'S256',
    });
    expect(otherRedirect.status).toBe(400);
    expect(otherRedirect.text).toContain('redirect_uri');
  });

  it('issues devices short-lived tokens bound to their certificate, on the gateway only', async () => {
    const device = await cp.enrolledDevice('TCU-AUTH-DEV');
    const { key, issued } = device.credentials!;
    const tel = await deviceToken({
      gatewayUrl: cp.addresses.gateway,
      ca: cp.ca,
      cert: issued.certificate,
      key: key.privateKeyPem,
      deviceId: issued.deviceId,
      resource: 'urn:carapace:telemetry',
    });
    const claims = decodeJwt(tel.accessToken);
    const thumbprintOf = (pem: string) =>
      certificateThumbprint(Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64'));
    expect(claims).toMatchObject({
      aud: 'urn:carapace:telemetry',
      client_id: `device:${issued.deviceId}`,
      scope: 'telemetry:write',
      cnf: { 'x5t#S256': thumbprintOf(issued.certificate) },
    });
    expect(Number(claims.exp) - Number(claims.iat)).toBeLessThanOrEqual(300);
    const cmd = await deviceToken({
      gatewayUrl: cp.addresses.gateway,
      ca: cp.ca,
      cert: issued.certificate,
      key: key.privateKeyPem,
      deviceId: issued.deviceId,
      resource: 'urn:carapace:commands',
    });
    expect(Number(decodeJwt(cmd.accessToken).exp) - Number(decodeJwt(cmd.accessToken).iat)).toBeLessThanOrEqual(60);
    // The verifier accepts it with the same certificate and refuses it with another.
    const other = await cp.enrolledDevice('TCU-AUTH-DEV2');
    const presented = (thumbprint: string) =>
      cp.platform.auth.verify(
        {
          authorization: `Bearer ${tel.accessToken}`,
          dpop: undefined,
          method: 'POST',
          url: `${cp.addresses.gateway}/v1/telemetry`,
          certificateThumbprint: thumbprint,
        },
        'urn:carapace:telemetry',
      );
    const mine = thumbprintOf(issued.certificate);
    await expect(presented(mine)).resolves.toMatchObject({ binding: 'mtls', clientId: `device:${issued.deviceId}` });
    const theirs = thumbprintOf(other.credentials!.issued.certificate);
    await expect(presented(theirs)).rejects.toMatchObject({ reason: 'certificate_mismatch' });
    // A device cannot get a token as another device, nor for the public API.
    await expect(
      deviceToken({
        gatewayUrl: cp.addresses.gateway,
        ca: cp.ca,
        cert: issued.certificate,
        key: key.privateKeyPem,
        deviceId: other.credentials!.issued.deviceId,
        resource: 'urn:carapace:telemetry',
      }),
    ).rejects.toMatchObject({ body: { error: 'invalid_client' } });
    const api = await request(`${cp.addresses.gateway}/oauth/token`, {
      ca: cp.ca,
      cert: issued.certificate,
      key: key.privateKeyPem,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: `device:${issued.deviceId}`,
        resource: 'urn:carapace:api',
      }).toString(),
    });
    expect(api.json).toMatchObject({ error: 'invalid_target' });
    // The public listener does not serve device tokens (no client certificate there).
    const pub = await request(`${base}/oauth/token`, {
      ca: cp.ca,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: `device:${issued.deviceId}`,
        resource: 'urn:carapace:telemetry',
      }).toString(),
    });
    expect(pub.status).toBe(401);
    device.close();
    other.close();
  });

  it('issues partners audience-limited, short client-credentials tokens with private_key_jwt and only their scopes', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const kid = randomUUID();
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
    const tenant = await cp.platform.storage.db
      .selectFrom('tenants')
      .select('id')
      .where('kind', '=', 'partner')
      .executeTakeFirstOrThrow();
    await cp.platform.directory.registerApplication(
      { type: 'operator', id: 'test' },
      {
        clientId: 'insights-partner',
        tenantId: tenant.id,
        name: 'Insights',
        kind: 'partner',
        redirectUris: [],
        scopes: ['vehicle:read_status'],
        jwks: { keys: [publicJwk] },
      },
    );
    const privateJwk = { ...(await exportJWK(privateKey)), kid };
    const t = await clientCredentialsToken({
      baseUrl: base,
      ca: cp.ca,
      clientId: 'insights-partner',
      privateJwk,
      scope: 'vehicle:read_status',
    });
    const claims = decodeJwt(t.accessToken);
    expect(claims).toMatchObject({
      aud: 'urn:carapace:api',
      client_id: 'insights-partner',
      scope: 'vehicle:read_status',
    });
    expect(Number(claims.exp) - Number(claims.iat)).toBeLessThanOrEqual(600);
    await expect(
      clientCredentialsToken({
        baseUrl: base,
        ca: cp.ca,
        clientId: 'insights-partner',
        privateJwk,
        scope: 'vehicle:unlock',
      }),
    ).rejects.toMatchObject({ body: { error: 'invalid_scope' } });
    const stranger = { ...(await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey)), kid };
    await expect(
      clientCredentialsToken({
        baseUrl: base,
        ca: cp.ca,
        clientId: 'insights-partner',
        privateJwk: stranger,
        scope: 'vehicle:read_status',
      }),
    ).rejects.toMatchObject({ body: { error: 'invalid_client' } });
    // Bound to the partner's DPoP key, and a person's token nowhere: /v1/me has no account for a partner to see, even
    // with a valid proof.
    expect(claims.cnf).toMatchObject({ jkt: expect.any(String) });
    const res = await request(`${base}/v1/me`, {
      ca: cp.ca,
      headers: {
        authorization: `DPoP ${t.accessToken}`,
        dpop: await t.dpop.proof('GET', `${base}/v1/me`, t.accessToken),
      },
    });
    expect(res.json).toMatchObject({ status: 404, code: 'ERR_NOT_FOUND' });
    expect(
      (await request(`${base}/v1/me`, { ca: cp.ca, headers: { authorization: `Bearer ${t.accessToken}` } })).status,
    ).toBe(401);
  });

  it('requires DPoP of public clients at the token endpoint', async () => {
    const c = await loginAs('dana');
    const refreshToken = c.tokens!.refreshToken as string;
    const res = await request(`${base}/oauth/token`, {
      ca: cp.ca,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: OWNER_APP.clientId,
      }).toString(),
    });
    expect(res.status).toBe(400);
    // The same refresh token still works with its proof: the refusal above was the missing DPoP, nothing else.
    await expect(c.refresh(refreshToken)).resolves.toMatchObject({ tokenType: 'DPoP' });
  });
});

describe.each(testEngines())('signing key rotation (%s)', (database) => {
  it(
    'keeps tokens signed by the previous key valid after a rotation and restart, and signs new ones with the next ' +
      'key',
    async () => {
      const cp = await startTestCarapace({ database, overrides: { seedDemo: true } });
      try {
        const c = await CarapaceClient.create({ baseUrl: cp.config.publicBaseUrl, ca: cp.ca, ...OWNER_APP });
        await c.login({
          email: 'dana@example.com',
          password: 'demo-dana-password',
          scopes: ['openid', 'vehicle:read_status'],
        });
        const before = decodeProtectedHeader(c.tokens!.accessToken).kid;
        const next = await cp.platform.storage.db
          .selectFrom('token_signing_keys')
          .select('kid')
          .where('status', '=', 'next')
          .executeTakeFirstOrThrow();
        await rotateSigningKeys({
          db: cp.platform.storage.db,
          dir: join(cp.config.dataDir, 'pki', 'token-signing'),
          clock: cp.platform.clock,
          audit: cp.platform.audit,
        });
        // The next key was published before it ever signed.
        const published = (await request(`${cp.config.publicBaseUrl}/oauth/jwks`, { ca: cp.ca })).json as {
          keys: Array<{ kid: string }>;
        };
        expect(published.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([before, next.kid]));
        const restarted = await cp.restart();
        const again = await CarapaceClient.create({
          baseUrl: restarted.config.publicBaseUrl,
          ca: restarted.ca,
          ...OWNER_APP,
        });
        await again.login({
          email: 'dana@example.com',
          password: 'demo-dana-password',
          scopes: ['openid', 'vehicle:read_status'],
        });
        expect(decodeProtectedHeader(again.tokens!.accessToken).kid).toBe(next.kid);
        expect((await c.api('GET', '/v1/me')).status).toBe(200);
        expect((await again.api('GET', '/v1/me')).status).toBe(200);
      } finally {
        await cp.stop();
      }
    },
  );
});

describe.runIf(process.env.REDIS_URL)('DPoP replay across processes', () => {
  it('refuses at one process a proof already used at another, through Redis', async () => {
    // Two adapters, as two processes would open them.
    const redis = { url: process.env.REDIS_URL as string, keyPrefix: 'carapace-test:', commandTimeoutMs: 1000 };
    const [one, two] = [
      await createCluster({ redis }, { log: createLogger('silent') }),
      await createCluster({ redis }, { log: createLogger('silent') }),
    ];
    const replayStore = createClusterReplayStore(one);
    const other = createClusterReplayStore(two);
    try {
      const key = `test:${randomUUID()}`;
      expect(await replayStore.claim(key, 5)).toBe(true);
      expect(await other.claim(key, 5)).toBe(false);
      expect(await replayStore.claim(key, 5)).toBe(false);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it.each(testEngines())(
    'refuses a replayed proof end to end when two listeners share Redis (%s)',
    async (database) => {
      const overrides = { seedDemo: true, redis: { url: process.env.REDIS_URL } };
      const cp = await startTestCarapace({ database, overrides });
      try {
        const c = await CarapaceClient.create({ baseUrl: cp.config.publicBaseUrl, ca: cp.ca, ...OWNER_APP });
        await c.login({
          email: 'dana@example.com',
          password: 'demo-dana-password',
          scopes: ['openid', 'vehicle:read_status'],
        });
        const token = c.tokens!.accessToken;
        const proof = await c.dpop.proof('GET', `${cp.config.publicBaseUrl}/v1/me`, token);
        const call = () =>
          request(`${cp.config.publicBaseUrl}/v1/me`, {
            ca: cp.ca,
            headers: { authorization: `DPoP ${token}`, dpop: proof },
          });
        expect((await call()).status).toBe(200);
        // A second process of the same deployment (same keys, same Redis) sees the proof as used.
        const second = await cp.restart();
        expect(
          (
            await request(`${second.config.publicBaseUrl}/v1/me`, {
              ca: second.ca,
              headers: { authorization: `DPoP ${token}`, dpop: proof },
            })
          ).status,
        ).toBe(401);
      } finally {
        await cp.stop();
      }
    },
  );
});

describe.each(testEngines())('identity review regressions (%s)', (database) => {
  let cp: TestCarapace;
  beforeAll(async () => {
    cp = await startTestCarapace({
      database,
      overrides: { seedDemo: true, auth: { loginFailuresPerSource: 4 } },
    });
  });
  afterAll(async () => {
    await cp.stop();
  });

  it('ends a sign-in that passed the password step when the password changes before it completes', async () => {
    const base = cp.config.publicBaseUrl;
    const jar = new CookieJar();
    const verifier = 'v'.repeat(43);
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const auth = await request(
      `${base}/oauth/auth?${new URLSearchParams({ client_id: OWNER_APP.clientId, response_type: 'code', redirect_uri: OWNER_APP.redirectUri, scope: 'openid offline_access vehicle:read_status', code_challenge: challenge, code_challenge_method: 'S256', state: 'st', prompt: 'consent' })}`,
      { ca: cp.ca, jar },
    );
    const interaction = new URL(String(auth.headers.location), base).href;
    await request(interaction, { ca: cp.ca, jar });
    const login = await request(`${interaction}/login`, {
      ca: cp.ca,
      jar,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email: 'frank@example.com', password: 'demo-frank-password' }).toString(),
    });
    expect(login.status).toBe(303);
    const frank = await cp.platform.directory.findUserByEmail('frank@example.com');
    await cp.platform.directory.changePassword(
      { type: 'operator', id: 'test' },
      frank!.id,
      'frank changed his password',
    );
    // Following the staged redirect must not lead to a consent page or a code.
    const resumed = await request(new URL(String(login.headers.location), base).href, { ca: cp.ca, jar });
    expect(resumed.status === 303 ? String(resumed.headers.location) : resumed.text).not.toMatch(
      /code=|\/interaction\/[A-Za-z0-9_-]+$/,
    );
  });

  it('refuses a blocked source before any password work, without locking the accounts it tries', async () => {
    const attempt = async (email: string, password: string) => {
      const c = await CarapaceClient.create({ baseUrl: cp.config.publicBaseUrl, ca: cp.ca, ...OWNER_APP });
      return c.login({ email, password, scopes: ['openid'] }).then(
        () => 'ok',
        () => 'refused',
      );
    };
    for (let i = 0; i < 4; i++) await attempt(`nobody${i}@example.com`, 'wrong-password-x');
    expect(await attempt('derek@mainstreet.example', 'demo-derek-password')).toBe('refused');
    const [event] = await cp.platform.audit.list({ type: 'auth.login.failed', limit: 1 });
    expect(event?.reason).toBe('source_throttled');
    expect(await cp.platform.auth.throttle.accountBlocked('derek@mainstreet.example')).toBe(false);
  });

  it('records the jti of a refused token scrubbed and bounded', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: 'x' })).toString('base64url');
    for (const jti of ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl', 'j'.repeat(6000)]) {
      const payload = Buffer.from(JSON.stringify({ jti })).toString('base64url');
      const res = await request(`${cp.config.publicBaseUrl}/v1/me`, {
        ca: cp.ca,
        headers: { authorization: `Bearer ${header}.${payload}.c2ln` },
      });
      expect(res.status).toBe(401);
      const [event] = await cp.platform.audit.list({
        type: 'auth.token.refused',
        requestId: String(res.headers['x-request-id']),
      });
      expect(String(event?.object?.id).length).toBeLessThanOrEqual(65);
    }
  });
});
