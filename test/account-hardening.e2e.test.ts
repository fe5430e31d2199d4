import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { exportJWK, importJWK, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_FOR_ROLE } from '../src/authz-matrix/index.js';
import { Redis } from 'ioredis';
import { CarapaceClient, type ClientResponse, ServiceSession } from '../src/client/index.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/platform/index.js';
import { type RunningCarapace, startCarapace } from '../src/server/index.js';
import { httpsRequest } from '../src/vehicle-sdk/index.js';
import { currentTotp } from '../src/identity/index.js';
import type { Clock } from '../src/platform/index.js';
import { readScenario } from '../src/server/index.js';
import { freePort, rawRequest, startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';

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

/** The wall clock, moved ahead on demand: DPoP proofs stay within their minute, sign-ins can be made old. */
class AheadClock implements Clock {
  ahead = 0;
  now(): Date {
    return new Date(Date.now() + this.ahead);
  }
}
/** The smallest step-up window the configuration allows, so a sign-in gets too old within a DPoP proof's minute. */
const STEP_UP = 30;

describe.each(testEngines())('accounts and tokens after the outside test (%s)', (database) => {
  let cp: TestCarapace;
  const clock = new AheadClock();
  let base = '';
  const vehicles = new Map<string, string>();
  const vid = (key: string) => vehicles.get(key) as string;

  /** A fresh sign-in of a persona through the app their role uses (never cached: tests end sessions). */
  // `totpAt` signs in with the code of another 30 s step: a code is single-use, and a persona may have signed in
  // moments ago in an earlier test.
  const signIn = async (key: string, password?: string, totpAt = 0): Promise<CarapaceClient> => {
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
      ...(totp ? { totp: () => currentTotp(totp, new Date(Date.now() + totpAt)) } : {}),
    });
    return c;
  };
  const json = <T>(r: ClientResponse) => r.json as T;

  beforeAll(async () => {
    cp = await startTestCarapace({
      database,
      clock,
      overrides: { seedDemo: true, commands: { stepUpMaxAge: STEP_UP } },
    });
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
    // The same on the other listeners, whatever the target names.
    const admin = cp.addresses.admin;
    const tls = { ca: cp.ca, cert: cp.operatorTls.cert, key: cp.operatorTls.key };
    for (const [listener, target] of [
      [admin, `${admin}/admin/v1/audit-events`],
      [cp.addresses.gateway, 'http://evil.example/v1/devices/x'],
    ] as const) {
      const res = await rawRequest(listener, target, tls);
      expect(res.status, target).toBe(400);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'ERR_BAD_REQUEST' });
    }
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

  const userId = async (email: string) => (await cp.platform.directory.findUserByEmail(email))!.id;
  const forgetThrottle = async (email: string) => {
    for (const key of [`signin:a:${email}`, 'signin:s:127.0.0.1', 'signin:s:::ffff:127.0.0.1'])
      await cp.platform.cluster.forget(key);
  };

  it('item 1: a stolen access token can neither enrol a second factor nor change the password', async () => {
    const oscar = await signIn('oscar');
    const other = await signIn('oscar');
    const id = await userId('oscar@northwind.example');
    const pending = async () =>
      (
        await cp.platform.storage.db
          .selectFrom('users')
          .select(['totp_pending_sealed', 'totp_sealed'])
          .where('id', '=', id)
          .executeTakeFirstOrThrow()
      ).totp_pending_sealed;
    // The attack as reported: the token alone got a secret (201). Now the current password is required.
    expect((await oscar.api('POST', '/v1/me/mfa/totp')).status).toBe(400);
    const guessed = await oscar.api('POST', '/v1/me/mfa/totp', { currentPassword: 'a guess, wrong' });
    expect(guessed.json).toMatchObject({ status: 403, code: 'ERR_FORBIDDEN', reason: 'current_password_refused' });
    expect(await pending()).toBeNull();
    // With the password, but a sign-in older than the step-up window (a refreshed or stolen long-lived session).
    clock.ahead = (STEP_UP + 1) * 1000;
    try {
      const stale = await oscar.api('POST', '/v1/me/mfa/totp', { currentPassword: 'demo-oscar-password' });
      expect(stale.json).toMatchObject({ status: 403, reason: 'fresh_sign_in_required' });
      const stalePassword = await oscar.api('POST', '/v1/me/password', {
        currentPassword: 'demo-oscar-password',
        newPassword: 'an attacker password',
      });
      expect(stalePassword.json).toMatchObject({ status: 403, reason: 'fresh_sign_in_required' });
    } finally {
      clock.ahead = 0;
    }
    expect(await pending()).toBeNull();
    const [refusal] = await cp.platform.audit.list({ type: 'identity.user.password_check_failed', objectId: id });
    expect(refusal).toMatchObject({ decision: 'deny', reason: 'bad_password', action: 'enroll_mfa' });

    // The owner, fresh and with the password, enrols; every other session and token of the account ends.
    const begun = await oscar.api('POST', '/v1/me/mfa/totp', { currentPassword: 'demo-oscar-password' });
    expect(begun.status).toBe(201);
    const { secret } = json<{ secret: string }>(begun);
    expect((await oscar.api('POST', '/v1/me/mfa/totp/confirm', { code: currentTotp(secret, new Date()) })).status).toBe(
      204,
    );
    expect((await other.api('GET', '/v1/me')).status).toBe(401);
    await expect(other.refresh()).rejects.toMatchObject({ body: { error: 'invalid_grant' } });
    expect((await oscar.api('GET', '/v1/me')).status).toBe(401);
    const [enrolled] = await cp.platform.audit.list({ type: 'identity.user.mfa_enrolled', objectId: id });
    expect(enrolled).toMatchObject({ decision: 'allow', reason: 'tokens revoked' });
    expect(Number(enrolled?.details.endedSessions)).toBeGreaterThan(0);
    expect(JSON.stringify(enrolled)).not.toContain(secret);
  });

  it('item 2: a transfer and a step-up command need a second factor younger than the window, after refresh too', async () => {
    const bob = await signIn('bob');
    const transfer = () =>
      bob.api('POST', `/v1/vehicles/${vid('bob-car')}/transfer`, { toEmail: 'nobody@example.com' });
    // A step-up command is judged by the same rule and the same age (guardrail.step-up-commands).
    let n = 0;
    const unlock = () =>
      bob.api(
        'POST',
        `/v1/vehicles/${vid('bob-car')}/commands`,
        { command: 'unlock' },
        { 'idempotency-key': `u${n++}` },
      );
    const challenged = (r: Awaited<ReturnType<typeof unlock>>) => {
      expect(r.json).toMatchObject({ status: 401, code: 'ERR_STEP_UP_REQUIRED' });
      expect(String(r.headers['www-authenticate'])).toContain('insufficient_user_authentication');
    };
    // Fresh: authorized, and refused by the handler only because the recipient does not exist (nothing moves).
    expect(json<{ code: string }>(await transfer()).code).toBe('ERR_TRANSFER_REFUSED');
    // Fresh: past every policy (what the vehicle's state then says is the commands module's business).
    const fresh = await unlock();
    expect([401, 403, 404]).not.toContain(fresh.status);
    clock.ahead = (STEP_UP + 1) * 1000;
    try {
      expect((await transfer()).json).toMatchObject({ status: 403, code: 'ERR_FORBIDDEN' });
      challenged(await unlock());
      // A refresh mints a new access token but carries the old sign-in's auth_time: still too old.
      await bob.refresh();
      expect((await transfer()).json).toMatchObject({ status: 403, code: 'ERR_FORBIDDEN' });
      const late = await unlock();
      challenged(late);
      const [event] = await cp.platform.audit.list({
        requestId: String(late.headers['x-request-id']),
        type: 'authz.decision',
        decision: 'deny',
      });
      expect(event?.details.forbiddenBy).toContain('guardrail.step-up-commands');
    } finally {
      clock.ahead = 0;
    }
    const denied = (
      await cp.platform.audit.list({
        type: 'authz.decision',
        decision: 'deny',
        actorId: await userId('bob@example.com'),
      })
    ).find((e) => e.action === 'vehicle:transfer');
    expect(denied?.details.forbiddenBy).toContain('guardrail.mfa-for-critical-changes');
  });

  it('item 2: delegating a step-up command, a partner grant, invites and approvals need a fresh factor', async () => {
    const bob = await signIn('bob', undefined, 30_000);
    const sean = await signIn('sean');
    const carl = await signIn('carl');
    const db = cp.platform.storage.db;
    const tenant = async (name: string) =>
      (await db.selectFrom('tenants').select('id').where('name', 'like', name).executeTakeFirstOrThrow()).id;
    const contoso = await tenant('Contoso%');
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const delegate = (commands: string[]) =>
      bob.api('POST', `/v1/vehicles/${vid('bob-car')}/delegations`, {
        email: 'dana@example.com',
        commands,
        validUntil: until,
      });
    const grant = () =>
      bob.api('POST', `/v1/vehicles/${vid('bob-car')}/partner-grants`, {
        clientId: 'insights-readonly',
        scopes: ['vehicle:read_status'],
        until,
      });
    const invite = () =>
      carl.api('POST', `/v1/tenants/${contoso}/invitations`, {
        email: 'new-op@contoso.example',
        role: 'fleet_operator',
      });
    const opened = await sean.api('POST', '/v1/support-cases', {
      accountEmail: 'bob@example.com',
      assigneeEmail: 'sam@carapace.example',
      vehicleId: vid('bob-car'),
      summary: 'freshness of approvals',
    });
    expect(opened.status).toBe(201);
    const supportCase = json<{ id: string }>(opened);
    const approve = () =>
      sean.api('POST', `/v1/support-cases/${supportCase.id}/approvals`, { command: 'lock', reason: 'owner asked' });
    const rows = async () => ({
      invites: Number(
        (
          await db
            .selectFrom('delegation_invites')
            .select((e) => e.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      ),
    });
    clock.ahead = (STEP_UP + 1) * 1000;
    try {
      const before = await rows();
      // A stolen (or long-refreshed) token hands `unlock` to a driver: challenged like sending it.
      const late = await delegate(['unlock']);
      expect(late.json).toMatchObject({ status: 401, code: 'ERR_STEP_UP_REQUIRED' });
      expect(String(late.headers['www-authenticate'])).toContain('insufficient_user_authentication');
      // A command that needs no step-up may still be delegated on an older sign-in.
      expect((await delegate(['horn_lights'])).status).toBe(201);
      for (const [name, r] of [
        ['grant', await grant()],
        ['invite', await invite()],
        ['approve', await approve()],
      ] as const)
        expect({ name, ...(r.json as object) }).toMatchObject({ name, status: 403, code: 'ERR_FORBIDDEN' });
      expect((await rows()).invites).toBe(before.invites + 1);
      const denied = await cp.platform.audit.list({ type: 'authz.decision', decision: 'deny', limit: 50 });
      const by = (action: string) => denied.find((e) => e.action === action)?.details.forbiddenBy;
      expect(by('delegation:create')).toContain('guardrail.step-up-commands');
      for (const action of ['partner_grant:create', 'support_case:approve_command'])
        expect(by(action)).toContain('guardrail.mfa-for-critical-changes');
      expect(by('identity:invite')).toContain('guardrail.fresh-sign-in-for-invitations');
    } finally {
      clock.ahead = 0;
    }
    // The same requests on a fresh sign-in pass every guardrail.
    expect((await delegate(['unlock'])).status).toBe(201);
    expect((await grant()).status).toBe(201);
    expect((await invite()).status).toBe(201);
    expect((await approve()).status).toBe(201);
  });

  it('item 2: a fleet batch of a step-up command gets the same challenge once the factor is too old', async () => {
    const fiona = await signIn('fiona');
    const db = cp.platform.storage.db;
    const fleet = (await db.selectFrom('tenants').select('id').where('name', 'like', 'Northwind%').executeTakeFirst())!;
    const vans = [vid('northwind-van-1'), vid('northwind-van-2')];
    let n = 0;
    const batch = () =>
      fiona.api(
        'POST',
        `/v1/fleets/${fleet.id}/commands`,
        { command: 'unlock', vehicleIds: vans },
        { 'idempotency-key': `fleet-unlock-${n++}` },
      );
    const jobs = async () =>
      Number(
        (
          await db
            .selectFrom('command_jobs')
            .select((e) => e.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    // Fresh: past every policy, whatever the vans' state then says.
    const fresh = await batch();
    expect([401, 403, 404]).not.toContain(fresh.status);
    const before = await jobs();
    clock.ahead = (STEP_UP + 1) * 1000;
    try {
      const late = await batch();
      expect(late.json).toMatchObject({ status: 401, code: 'ERR_STEP_UP_REQUIRED' });
      expect(String(late.headers['www-authenticate'])).toContain('insufficient_user_authentication');
      expect(await jobs()).toBe(before);
    } finally {
      clock.ahead = 0;
    }
  });

  it('item 4: the current-password check counts against the sign-in throttle and is audited', async () => {
    const frank = await signIn('frank');
    const id = await userId('frank@example.com');
    const change = (currentPassword: string) =>
      frank.api('POST', '/v1/me/password', { currentPassword, newPassword: 'frank has a new password' });
    const guesses = await Promise.all(Array.from({ length: 12 }, (_, i) => change(`guess number ${i}`)));
    expect(guesses.map((g) => g.status)).toEqual(Array(12).fill(403));
    // The right password after a burst of guesses is refused too: the account's checks are paused.
    expect((await change('demo-frank-password')).status).toBe(403);
    const events = await cp.platform.audit.list({ type: 'identity.user.password_check_failed', objectId: id });
    expect(events).toHaveLength(13);
    // Reserved before the password was hashed: exactly the account's limit were checked, the rest paused.
    expect(events.filter((e) => e.reason === 'bad_password')).toHaveLength(cp.config.auth.loginFailuresPerAccount);
    // The same throttle as sign-in: the sign-in page is paused for the account as well.
    await expect(signIn('frank')).rejects.toMatchObject({ status: 401 });
    await forgetThrottle('frank@example.com');
    expect((await change('demo-frank-password')).status).toBe(204);
  });
});

describe.each(testEngines())('a burst of sign-ins from one address (%s)', (database) => {
  let cp: TestCarapace;
  const limit = 10;
  // Embedded mode counts in memory; with PostgreSQL the counters are in Redis, as in cluster mode.
  const redis =
    database === 'postgres' && process.env.REDIS_URL
      ? { redis: { url: process.env.REDIS_URL, keyPrefix: `burst-${crypto.randomUUID()}:` } }
      : {};
  beforeAll(async () => {
    cp = await startTestCarapace({
      database,
      overrides: { seedDemo: true, auth: { loginFailuresPerSource: limit }, ...redis },
    });
  }, 120_000);
  afterAll(async () => cp?.stop());

  it('item 5: reserves before checking, so no more than the per-source limit ever reach argon2', async () => {
    const base = cp.config.publicBaseUrl;
    const attempts = Array.from({ length: 3 * limit }, async (_, i) => {
      const c = await CarapaceClient.create({
        baseUrl: base,
        ca: cp.ca,
        clientId: 'carapace-owner-app',
        redirectUri: 'http://127.0.0.1/callback',
      });
      return c.login({ email: `burst${i}@example.com`, password: 'not the password', scopes: ['openid'] });
    });
    const results = await Promise.allSettled(attempts);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    const failed = await cp.platform.audit.list({ type: 'auth.login.failed', limit: 1000 });
    expect(failed).toHaveLength(3 * limit);
    // Each bad_credentials event is one argon2 verification; source_throttled ones never hashed anything.
    expect(failed.filter((e) => e.reason === 'bad_credentials')).toHaveLength(limit);
    expect(failed.filter((e) => e.reason === 'source_throttled')).toHaveLength(2 * limit);
  });
});

describe.each(testEngines())('revoked access tokens (%s)', (database) => {
  let cp: TestCarapace;
  beforeAll(async () => {
    cp = await startTestCarapace({ database, overrides: { seedDemo: true } });
  }, 120_000);
  afterAll(async () => cp?.stop());
  const owner = async (offline = false) => {
    const c = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await c.login({
      email: 'dana@example.com',
      password: 'demo-dana-password',
      scopes: ['openid', 'vehicle:read_status', ...(offline ? ['offline_access'] : [])],
    });
    return c;
  };
  const reasonOf = (r: ClientResponse) => (r.json as { reason?: string } | null)?.reason;

  it('item 7: RFC 7009 revokes an access token, refused on the next request; another client cannot', async () => {
    const dana = await owner();
    const token = dana.tokens!.accessToken;
    expect((await dana.api('GET', '/v1/me')).status).toBe(200);
    // Another application asking to revoke Dana's token gets the RFC 7009 answer and changes nothing.
    const other = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-fleet-console',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await other.revoke(token, 'access_token');
    expect((await dana.api('GET', '/v1/me')).status).toBe(200);
    // Before: 400 unsupported_token_type, and the token kept working for its 10 minutes.
    await dana.revoke(token, 'access_token');
    const after = await dana.api('GET', '/v1/me');
    expect(after.status).toBe(401);
    expect(reasonOf(after)).toBe('token_revoked');
    const [event] = await cp.platform.audit.list({ type: 'auth.token.revoked' });
    expect(event).toMatchObject({ applicationId: 'carapace-owner-app', reason: 'rfc7009' });
    expect(JSON.stringify(event)).not.toContain(token);
  });

  it('item 7: revoking the grant (its refresh token, refresh-token reuse, a logout) refuses its access tokens', async () => {
    const dana = await owner(true);
    expect((await dana.api('GET', '/v1/me')).status).toBe(200);
    await dana.revoke(); // the refresh token: oidc-provider revokes the whole grant
    const after = await dana.api('GET', '/v1/me');
    expect(after.status).toBe(401);
    expect(reasonOf(after)).toBe('grant_revoked');

    const reuse = await owner(true);
    const first = reuse.tokens!.refreshToken!;
    await reuse.refresh();
    expect((await reuse.api('GET', '/v1/me')).status).toBe(200);
    await expect(reuse.refresh(first)).rejects.toMatchObject({ body: { error: 'invalid_grant' } });
    // The reuse ended the grant; the access token minted by the legitimate refresh dies with it.
    expect(reasonOf(await reuse.api('GET', '/v1/me'))).toBe('grant_revoked');
    // Another sign-in, another grant: unaffected.
    expect((await (await owner()).api('GET', '/v1/me')).status).toBe(200);

    // Signing out ends the session and the grant it holds: its access token is refused at once.
    const session = await owner();
    expect((await session.api('GET', '/v1/me')).status).toBe(200);
    await session.logout();
    expect(reasonOf(await session.api('GET', '/v1/me'))).toBe('grant_revoked');
  });

  it("item 7: an operator revokes a client's tokens; a revoked device's token goes with its certificate", async () => {
    const clientId = 'insights-readonly';
    const privateJwk = JSON.parse(
      readFileSync(join(cp.config.dataDir, 'demo', `${clientId}.private.jwk.json`), 'utf8'),
    ) as JWK;
    const partner = await ServiceSession.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId,
      privateJwk,
      scope: 'vehicle:read_status',
    });
    expect((await partner.api('GET', '/v1/vehicles')).status).toBe(200);
    const admin = (path: string, body: unknown, headers: Record<string, string> = {}, tls = cp.operatorTls) =>
      httpsRequest(`${cp.addresses.admin}${path}`, {
        method: 'POST',
        ca: cp.ca,
        cert: tls.cert,
        key: tls.key,
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    // Revoking every token of a client is fleet-wide: a second operator (certificate, pki_officer) approves it.
    const issued = await cp.platform.pki.issueOperatorCertificate({
      name: 'second',
      csrPem: null,
      actor: { type: 'system', id: null },
    });
    await cp.platform.operators.directory.bindCertificate(
      { type: 'system', id: null },
      { name: 'second', serial: issued.serial, role: 'pki_officer' },
    );
    const second = { cert: issued.certificatePem, key: issued.privateKeyPem as string };
    const approved = async () => {
      const asked = await admin('/admin/v1/approvals', { action: 'auth:revoke_client_tokens', reason: 'key leaked' });
      const id = (asked.json as { id: string }).id;
      expect((await admin(`/admin/v1/approvals/${id}/approve`, {}, {}, second)).status).toBe(200);
      return { 'x-carapace-approval': id };
    };
    const path = `/admin/v1/clients/${clientId}/token-revocation`;
    expect((await admin(path, { reason: 'key leaked' })).status).toBe(403);
    expect((await admin(path, { reason: 'key leaked' }, await approved())).status).toBe(204);
    const after = await partner.api('GET', '/v1/vehicles');
    expect(after.status).toBe(401);
    expect(reasonOf(after)).toBe('client_tokens_revoked');
    expect((await admin('/admin/v1/clients/nobody/token-revocation', { reason: 'x' }, await approved())).status).toBe(
      404,
    );

    const device = await cp.enrolledDevice('TCU-DENY-1');
    const deviceId = device.credentials!.issued.deviceId;
    expect((await device.request('GET', `/v1/devices/${deviceId}`)).status).toBe(200);
    // Device tokens are bound to the certificate (cnf.x5t#S256): revoking the device kills the certificate, and the
    // gateway checks it on every request through the revocation fast path, so its tokens go with it.
    expect((await admin('/admin/v1/revocations', { deviceId, reason: 'keyCompromise' })).status).toBe(201);
    // Its open connection is closed by the revocation; a new one is refused.
    device.close();
    expect((await device.request('GET', `/v1/devices/${deviceId}`)).status).toBe(401);
    device.close();
  });
});

describe.runIf(process.env.DATABASE_URL && process.env.REDIS_URL)('revocation reaches every node (cluster)', () => {
  let a: TestCarapace;
  let b: RunningCarapace;
  let raw: Redis;
  const keyPrefix = `deny-${crypto.randomUUID()}:`;
  beforeAll(async () => {
    raw = new Redis(process.env.REDIS_URL as string, { lazyConnect: true });
    await raw.connect();
    // Reloads a minute apart: whatever node B learns within the test came through Redis.
    a = await startTestCarapace({
      database: 'postgres',
      overrides: {
        seedDemo: true,
        redis: { url: process.env.REDIS_URL, keyPrefix },
        pki: { revocationPollInterval: 60 },
      },
    });
    const [pub, gw, adm] = [await freePort(), await freePort(), await freePort()];
    const config = loadConfig({
      overrides: {
        ...a.config,
        seedDemo: false,
        listeners: {
          public: { host: '127.0.0.1', port: pub },
          gateway: { host: '127.0.0.1', port: gw },
          admin: { host: '127.0.0.1', port: adm },
        },
      },
    });
    b = await startCarapace(config, { log: createLogger('silent') });
  }, 120_000);
  afterAll(async () => {
    raw?.disconnect();
    await b?.close();
    await a?.stop();
  });

  it('item 7: a token revoked on node A is refused by node B at once; a forged announcement changes nothing', async () => {
    const base = a.config.publicBaseUrl;
    const dana = await CarapaceClient.create({
      baseUrl: base,
      ca: a.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await dana.login({ email: 'dana@example.com', password: 'demo-dana-password', scopes: ['openid'] });
    const token = dana.tokens!.accessToken;
    // Node B behind the same public name: the Host is the deployment's, the connection goes to B.
    const onB = async () =>
      send(b.addresses.public, '/v1/me', {
        ca: a.ca,
        headers: {
          host: new URL(base).host,
          authorization: `DPoP ${token}`,
          dpop: await dana.dpop.proof('GET', `${base}/v1/me`, token),
        },
      });
    expect((await onB()).status).toBe(200);
    for (const forged of ['{"v":1}', 'reload', JSON.stringify({ kind: 'jti', value: 'x' })])
      await raw.publish(`${keyPrefix}auth:token-denylist`, forged);
    expect((await onB()).status).toBe(200);
    await dana.revoke(token, 'access_token');
    let status = 0;
    for (let i = 0; i < 50 && status !== 401; i++) {
      status = (await onB()).status;
      if (status !== 401) await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(401);
  });
});
