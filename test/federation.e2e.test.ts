import { calculateJwkThumbprint, decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient, request, type TokenSet } from '../src/client/index.js';
import { findUserByEmail } from '../src/identity/index.js';
import { ACR } from '../src/tokens/index.js';
import { freePort, rawRequest, startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { type ExternalIdp, type IdpKey, idpKey, startExternalIdp } from './external-idp.js';

/** A Carapace owner-app client (its own DPoP key). */
const ownerApp = (cp: TestCarapace) =>
  CarapaceClient.create({
    baseUrl: cp.config.publicBaseUrl,
    ca: cp.ca,
    clientId: 'carapace-owner-app',
    redirectUri: 'http://127.0.0.1/callback',
  });

describe.each(testEngines())('sign in with your own identity provider (%s)', (database) => {
  let cp: TestCarapace;
  let idp: ExternalIdp;
  let stranger: ExternalIdp;
  let idpPort: number;
  let oldKey: IdpKey;
  let aliceId: string;

  /** Exchanges a subject token; resolves to the token set, or to the OAuth error code of the refusal. */
  const exchange = async (subjectToken: string, client?: CarapaceClient): Promise<TokenSet | string> => {
    const app = client ?? (await ownerApp(cp));
    return app
      .exchangeToken({ subjectToken, scopes: ['openid', 'vehicle:read_status', 'vehicle:unlock'] })
      .catch((err: { body?: { error?: string; error_description?: string } }) =>
        process.env.DEBUG_FED ? `${err.body?.error}: ${err.body?.error_description}` : (err.body?.error ?? 'unknown'),
      );
  };
  const lastRefusal = async () =>
    (await cp.platform.audit.list({ type: 'auth.federation.refused', limit: 1 }))[0]?.reason ?? null;
  const link = (subject: string, userId: string) =>
    rawRequest(cp.addresses.admin, '/admin/v1/federation/links', {
      method: 'POST',
      ca: cp.ca,
      ...cp.operatorTls,
      body: JSON.stringify({ issuer: idp.issuer, subject, userId }),
    });
  const claimsOf = (issued: TokenSet | string) => {
    if (typeof issued === 'string') throw new Error(`exchange refused: ${issued}`);
    return decodeJwt(issued.accessToken);
  };

  beforeAll(async () => {
    idpPort = await freePort();
    oldKey = await idpKey('idp-key-1');
    idp = await startExternalIdp(idpPort, [oldKey]);
    stranger = await startExternalIdp(await freePort(), [await idpKey('stranger-key')]);
    cp = await startTestCarapace({
      database,
      overrides: {
        seedDemo: true,
        detect: { enabled: false },
        // The test IdP listens on http://127.0.0.1; the outbound layer allows that only in development, by this flag.
        outbound: { allowLoopbackHttp: true },
        federation: {
          issuers: [
            {
              // Its keys would come from the cloud metadata address: the outbound layer must refuse the fetch.
              id: 'metadata',
              issuer: 'https://idp.metadata.example',
              jwksUri: 'https://169.254.169.254/latest/meta-data/jwks',
              audience: 'carapace-at-idp',
              algorithms: ['RS256'],
              clients: ['carapace-owner-app'],
            },
            {
              id: 'corp',
              issuer: idp.issuer,
              audience: 'carapace-at-idp',
              algorithms: ['RS256'],
              clients: ['carapace-owner-app'],
              mfa: { acr: ['urn:idp:mfa'] },
            },
          ],
          jwksCacheTtl: 1,
          jwksRefetchCooldown: 0,
          clockTolerance: 5,
        },
      },
    });
    aliceId = (await findUserByEmail(cp.platform.storage.db, 'alice@example.com'))!.id;
    expect((await link('ext-alice', aliceId)).status).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
    await idp?.stop();
    await stranger?.stop();
  });

  it('exchanges an ID token of the external IdP for a DPoP-bound Carapace token of the linked user', async () => {
    const app = await ownerApp(cp);
    const idToken = await idp.signIn({ account: 'ext-alice' });
    const issued = await exchange(idToken, app);
    const claims = claimsOf(issued);
    // The external token is a credential: neither the audit trail nor the server's token store keeps it.
    const db = cp.platform.storage.db;
    const stored = JSON.stringify([
      await db.selectFrom('audit_events').selectAll().execute(),
      await db.selectFrom('oidc_payloads').selectAll().execute(),
    ]);
    expect(stored).not.toContain(idToken.split('.')[2]);
    expect(stored).not.toContain(idToken.split('.')[1]);
    expect(claims.sub).toBe(aliceId);
    expect(claims.iss).toBe(`${cp.config.publicBaseUrl}/oauth`);
    expect((claims.cnf as { jkt?: string }).jkt).toBe(await calculateJwkThumbprint(app.dpop.publicJwk));
    expect(claims.acr).not.toBe(ACR.mfa);
    expect((await app.api('GET', '/v1/vehicles')).status).toBe(200);
    // Bound to the key: the same token as a plain bearer token, without the DPoP proof, is refused.
    const bearer = await request(`${cp.config.publicBaseUrl}/v1/vehicles`, {
      ca: cp.ca,
      headers: { authorization: `Bearer ${app.tokens!.accessToken}` },
    });
    expect(bearer.status).toBe(401);
    const events = await cp.platform.audit.list({ type: 'auth.federation.accepted', limit: 1 });
    expect(events[0]?.actor.id).toBe(aliceId);
    expect(events[0]?.reason).toBe('single_factor');
  });

  it('gives no MFA claim unless the external acr is one the settings trust, so step-up follows it', async () => {
    const unlock = (app: CarapaceClient, key: string) =>
      app.api('POST', `/v1/vehicles/${vehicleOf}/commands`, { command: 'unlock' }, { 'idempotency-key': key });
    const single = await ownerApp(cp);
    await exchange(await idp.signIn({ account: 'ext-alice', acr: 'urn:idp:weak', amr: ['otp'] }), single);
    expect(claimsOf({ ...single.tokens! }).acr).not.toBe(ACR.mfa);
    const list = (await single.api('GET', '/v1/vehicles')).json as { vehicles: Array<{ id: string }> };
    vehicleOf = list.vehicles[0]!.id;
    const refused = await unlock(single, 'fed-unlock-1');
    expect(refused.status).toBe(401);
    expect((refused.json as { code: string }).code).toBe('ERR_STEP_UP_REQUIRED');

    const strong = await ownerApp(cp);
    await exchange(await idp.signIn({ account: 'ext-alice', acr: 'urn:idp:mfa' }), strong);
    expect(claimsOf({ ...strong.tokens! }).acr).toBe(ACR.mfa);
    const allowed = await unlock(strong, 'fed-unlock-2');
    // Past authorization and step-up: queued, or rejected by the vehicle's state (no unit online), never 401/403.
    expect([202, 409]).toContain(allowed.status);
  });
  let vehicleOf = '';

  it('refuses an unmapped subject, and never links by email alone', async () => {
    expect(await exchange(await idp.signIn({ account: 'ext-nobody' }))).toBe('invalid_grant');
    expect(await lastRefusal()).toBe('unmapped_subject');
    // The IdP vouches for alice's address, but linkByVerifiedEmail is off: the account is still not hers.
    const sameEmail = await idp.signIn({ account: 'ext-impostor', email: 'alice@example.com' });
    expect(decodeJwt(sameEmail).email_verified).toBe(true);
    expect(await exchange(sameEmail)).toBe('invalid_grant');
    expect(await lastRefusal()).toBe('unmapped_subject');
    const again = await link('ext-alice', (await findUserByEmail(cp.platform.storage.db, 'bob@example.com'))!.id);
    expect(again.status).toBe(409);
  });

  it('refuses a wrong audience, a wrong issuer and a token signed by another key', async () => {
    expect(await exchange(await idp.signIn({ account: 'ext-alice' }, 'other-app'))).toBe('invalid_grant');
    expect(await lastRefusal()).toBe('wrong_audience');
    expect(await exchange(await stranger.signIn({ account: 'ext-alice' }))).toBe('invalid_grant');
    expect(await lastRefusal()).toBe('unknown_issuer');
    const foreign = await idpKey(oldKey.kid);
    const now = Math.floor(Date.now() / 1000);
    const forged = await foreign.sign({
      iss: idp.issuer,
      aud: 'carapace-at-idp',
      sub: 'ext-alice',
      iat: now,
      exp: now + 300,
    });
    expect(await exchange(forged)).toBe('invalid_grant');
    expect(await lastRefusal()).toBe('bad_signature');
  });

  it('fetches keys only through the outbound layer: a key set at a metadata address is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: 'https://idp.metadata.example', aud: 'carapace-at-idp', sub: 'ext-alice' };
    expect(await exchange(await oldKey.sign({ ...claims, iat: now, exp: now + 300 }))).toBe('invalid_grant');
    expect(await lastRefusal()).toBe('issuer_unreachable');
    const [blocked] = await cp.platform.audit.list({ type: 'outbound.blocked', limit: 1 });
    expect(blocked?.details).toMatchObject({ purpose: 'federation', address: '169.254.169.254' });
  });

  it('refuses an expired token, an unsigned (alg none) one and HS256 keyed with the public key', async () => {
    const now = Math.floor(Date.now() / 1000);
    const base = { iss: idp.issuer, aud: 'carapace-at-idp', sub: 'ext-alice' };
    expect(await exchange(await oldKey.sign({ ...base, iat: now - 3600, exp: now - 600 }))).toBe('invalid_grant');
    expect(await lastRefusal()).toBe('expired');
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const payload = { ...base, iat: now, exp: now + 300 };
    expect(await exchange(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`)).toBe('invalid_grant');
    expect(await lastRefusal()).toBe('alg_not_allowed');
    const { createHmac } = await import('node:crypto');
    const publicJwk = JSON.stringify({ kty: oldKey.jwk.kty, n: oldKey.jwk.n, e: oldKey.jwk.e });
    const input = `${b64({ alg: 'HS256', kid: oldKey.kid })}.${b64(payload)}`;
    const hs = `${input}.${createHmac('sha256', publicJwk).update(input).digest('base64url')}`;
    expect(await exchange(hs)).toBe('invalid_grant');
    expect(await lastRefusal()).toBe('alg_not_allowed');
  });

  it('refuses an exchange without a DPoP proof, and from an app the issuer settings do not name', async () => {
    const noProof = await request(`${cp.config.publicBaseUrl}/oauth/token`, {
      ca: cp.ca,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: await idp.signIn({ account: 'ext-alice' }),
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
        client_id: 'carapace-owner-app',
        resource: 'urn:carapace:api',
      }).toString(),
    });
    expect(noProof.status).toBe(400);
    expect(noProof.json).toMatchObject({ error: 'invalid_grant' });
    expect(noProof.json).not.toHaveProperty('access_token');
    const fleet = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-fleet-console',
      redirectUri: 'http://127.0.0.1/callback',
    });
    expect(await exchange(await idp.signIn({ account: 'ext-alice' }), fleet)).toBe('invalid_request');
  });

  it('picks up a rotated key at the IdP, and refuses the old key once the IdP removed it', async () => {
    const newKey = await idpKey('idp-key-2');
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: idp.issuer, aud: 'carapace-at-idp', sub: 'ext-alice', iat: now, exp: now + 600 };
    const byOld = await oldKey.sign(claims);
    await idp.stop();
    idp = await startExternalIdp(idpPort, [newKey, oldKey]);
    const rotated = await idp.signIn({ account: 'ext-alice' });
    expect((JSON.parse(Buffer.from(rotated.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid).toBe(
      'idp-key-2',
    );
    expect(typeof (await exchange(rotated))).toBe('object');
    expect(typeof (await exchange(byOld))).toBe('object');
    await idp.stop();
    idp = await startExternalIdp(idpPort, [newKey]);
    // The old key is refused once the cached key set (jwksCacheTtl: 1 s here) has been fetched again.
    const deadline = Date.now() + 15_000;
    let outcome: TokenSet | string = '';
    while (Date.now() < deadline && outcome !== 'invalid_grant') {
      outcome = await exchange(byOld);
      if (outcome !== 'invalid_grant') await new Promise((r) => setTimeout(r, 250));
    }
    expect(outcome).toBe('invalid_grant');
    expect(await lastRefusal()).toBe('unknown_key');
    expect(typeof (await exchange(await idp.signIn({ account: 'ext-alice' })))).toBe('object');
  });
});
