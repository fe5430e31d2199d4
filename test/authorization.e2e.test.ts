import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient, type ClientResponse, request, ServiceSession } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { readScenario } from '../src/server/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { rawRequest } from '../src/testing/index.js';
import { APP_FOR_ROLE } from '../src/authz-matrix/index.js';

const scenario = readScenario('scenarios/demo.yaml');
type Caller = { api(method: string, path: string, body?: unknown): Promise<ClientResponse> };

describe.each(testEngines())('authorization: the named negative tests (%s)', (database) => {
  let cp: TestCarapace;
  const who = new Map<string, Caller>();
  const vehicles = new Map<string, string>();
  let base = '';

  /** Signs a persona in once (TOTP codes are single-use per step) through the app their role uses. */
  const as = async (key: string): Promise<Caller> => {
    const cached = who.get(key);
    if (cached) return cached;
    const app = scenario.applications?.find((a) => a.clientId === key);
    if (app) {
      const privateJwk = JSON.parse(
        readFileSync(join(cp.config.dataDir, 'demo', `${key}.private.jwk.json`), 'utf8'),
      ) as JWK;
      const s = await ServiceSession.create({
        baseUrl: base,
        ca: cp.ca,
        clientId: key,
        privateJwk,
        scope: app.scopes.join(' '),
      });
      who.set(key, s);
      return s;
    }
    const u = scenario.users.find((x) => x.key === key);
    if (!u) throw new Error(`no persona ${key}`);
    const clientId = APP_FOR_ROLE[u.memberships[0]?.role ?? 'owner'] as string;
    const scopes = (scenario.applications?.find((a) => a.clientId === clientId)?.scopes ?? []).filter(
      (s) => s !== 'offline_access',
    );
    const c = await CarapaceClient.create({
      baseUrl: base,
      ca: cp.ca,
      clientId,
      redirectUri: 'http://127.0.0.1/callback',
    });
    const totp = u.totp;
    await c.login({
      email: u.email,
      password: u.password,
      scopes,
      ...(totp ? { totp: () => currentTotp(totp, new Date()) } : {}),
    });
    who.set(key, c);
    return c;
  };
  const vid = (key: string) => vehicles.get(key) as string;
  const json = <T>(r: ClientResponse) => r.json as T;

  beforeAll(async () => {
    cp = await startTestCarapace({ database, overrides: { seedDemo: true } });
    base = cp.config.publicBaseUrl;
    const rows = await cp.platform.storage.db.selectFrom('vehicles').select(['id', 'vin']).execute();
    for (const v of scenario.vehicles ?? []) vehicles.set(v.key, rows.find((r) => r.vin === v.vin)?.id as string);
  }, 120_000);
  afterAll(async () => cp?.stop());

  it("User A cannot read or command User B's vehicle", async () => {
    const bob = await as('bob');
    const alice = await as('alice');
    const ghost = crypto.randomUUID();
    for (const suffix of ['', '/status', '/location', '/delegations', '/partner-grants', '/service-cases']) {
      const hidden = await bob.api('GET', `/v1/vehicles/${vid('alice-car')}${suffix}`);
      const missing = await bob.api('GET', `/v1/vehicles/${ghost}${suffix}`);
      // Exactly like a vehicle that does not exist: same status, same body apart from the request id.
      expect(hidden.status).toBe(404);
      const strip = (r: ClientResponse) => ({ ...(r.json as object), instance: undefined });
      expect(strip(hidden)).toEqual(strip(missing));
    }
    expect((await alice.api('GET', `/v1/vehicles/${vid('alice-car')}`)).status).toBe(200);
    expect(
      json<{ vehicles: Array<{ id: string }> }>(await bob.api('GET', '/v1/vehicles')).vehicles.map((v) => v.id),
    ).not.toContain(vid('alice-car'));
    // Commands over HTTP: Bob's lock request for Alice's car is a 404, like a car that does not exist.
    const bobClient = bob as CarapaceClient;
    const command = await bobClient.api(
      'POST',
      `/v1/vehicles/${vid('alice-car')}/commands`,
      { command: 'lock' },
      { 'idempotency-key': 'bob-tries-alice' },
    );
    const ghostCommand = await bobClient.api(
      'POST',
      `/v1/vehicles/${ghost}/commands`,
      { command: 'lock' },
      { 'idempotency-key': 'bob-tries-ghost' },
    );
    expect([command.status, ghostCommand.status]).toEqual([404, 404]);
    expect(
      await cp.platform.storage.db
        .selectFrom('command_jobs')
        .select('id')
        .where('vehicle_id', '=', vid('alice-car'))
        .execute(),
    ).toEqual([]);
    // And the decision point itself, for the command the owner may send and Bob may not.
    const { authorization } = cp.platform;
    const decide = async (userId: string) => {
      const principal = { kind: 'user' as const, userId, clientId: 'carapace-owner-app' };
      const [p, v] = await Promise.all([
        authorization.load.principal(principal),
        authorization.load.vehicle(vid('alice-car')),
      ]);
      return authorization.decisions.decide({
        principal: p!.uid,
        action: 'vehicle:command',
        resource: v.uid,
        context: { client: 'carapace-owner-app', scopes: ['vehicle:unlock'], mfa: true, command: 'unlock' },
        entities: [p!, ...v.entities],
      }).decision;
    };
    const ids = await cp.platform.storage.db.selectFrom('users').select(['id', 'email']).execute();
    expect(await decide(ids.find((u) => u.email === 'bob@example.com')!.id)).toBe('deny');
    expect(await decide(ids.find((u) => u.email === 'alice@example.com')!.id)).toBe('allow');
    // Every decision is audited with the policy version.
    const denials = await cp.platform.audit.list({ type: 'authz.decision', decision: 'deny', limit: 50 });
    expect(
      denials.some(
        (e) => e.object?.id === vid('alice-car') && e.policyVersion === cp.platform.authorization.policySet.version,
      ),
    ).toBe(true);
  });

  it('A fleet sub-user cannot reach vehicles outside the assigned group', async () => {
    const oscar = await as('oscar');
    expect((await oscar.api('GET', `/v1/vehicles/${vid('northwind-van-1')}`)).status).toBe(200);
    expect((await oscar.api('GET', `/v1/vehicles/${vid('northwind-van-2')}`)).status).toBe(404);
    expect((await oscar.api('GET', `/v1/vehicles/${vid('contoso-van-1')}`)).status).toBe(404);
    expect(
      json<{ vehicles: Array<{ id: string }> }>(await oscar.api('GET', '/v1/vehicles')).vehicles.map((v) => v.id),
    ).toEqual([vid('northwind-van-1')]);
    const fiona = await as('fiona');
    expect(
      json<{ vehicles: Array<{ id: string }> }>(await fiona.api('GET', '/v1/vehicles'))
        .vehicles.map((v) => v.id)
        .sort(),
    ).toEqual([vid('northwind-van-1'), vid('northwind-van-2')].sort());
    // An operator cannot add a vehicle to their own group; the admin can, and then the operator sees it.
    const tenant = (
      await cp.platform.storage.db
        .selectFrom('tenants')
        .select(['id'])
        .where('name', '=', 'Northwind Logistics')
        .executeTakeFirstOrThrow()
    ).id;
    const groups = json<{ groups: Array<{ id: string }> }>(
      await oscar.api('GET', `/v1/fleets/${tenant}/groups`),
    ).groups;
    expect(groups).toHaveLength(1);
    expect(
      (await oscar.api('PUT', `/v1/fleet-groups/${groups[0]!.id}/vehicles/${vid('northwind-van-2')}`)).status,
    ).toBe(403);
    expect((await fiona.api('PUT', `/v1/fleet-groups/${groups[0]!.id}/vehicles/${vid('contoso-van-1')}`)).status).toBe(
      404,
    );
    expect(
      (await fiona.api('PUT', `/v1/fleet-groups/${groups[0]!.id}/vehicles/${vid('northwind-van-2')}`)).status,
    ).toBe(200);
    expect((await oscar.api('GET', `/v1/vehicles/${vid('northwind-van-2')}`)).status).toBe(200);
    expect(
      (await fiona.api('DELETE', `/v1/fleet-groups/${groups[0]!.id}/vehicles/${vid('northwind-van-2')}`)).status,
    ).toBe(200);
    expect((await oscar.api('GET', `/v1/vehicles/${vid('northwind-van-2')}`)).status).toBe(404);
    // The vehicle stayed in the fleet.
    expect((await fiona.api('GET', `/v1/vehicles/${vid('northwind-van-2')}`)).status).toBe(200);
  });

  it('A dealer cannot reach vehicles outside an active service relationship', async () => {
    const derek = await as('derek');
    expect((await derek.api('GET', `/v1/vehicles/${vid('bob-car')}/diagnostics`)).status).toBe(200);
    expect((await derek.api('GET', `/v1/vehicles/${vid('alice-car')}/diagnostics`)).status).toBe(404);
    expect((await derek.api('GET', `/v1/vehicles/${vid('frank-old-car')}`)).status).toBe(404);
    // A request by VIN grants nothing until the owner consents; an unknown VIN gets the same answer.
    const dealer = (
      await cp.platform.storage.db
        .selectFrom('tenants')
        .select(['id'])
        .where('kind', '=', 'dealer')
        .executeTakeFirstOrThrow()
    ).id;
    const asked = await derek.api('POST', `/v1/dealers/${dealer}/service-cases`, {
      vin: '5YJ3E1EA7KF000003',
      reason: 'brakes',
    });
    const unknown = await derek.api('POST', `/v1/dealers/${dealer}/service-cases`, {
      vin: '5YJ3E1EA7KF999999',
      reason: 'brakes',
    });
    expect([asked.status, unknown.status]).toEqual([202, 202]);
    expect(json<{ vehicleId: unknown; status: string }>(asked)).toMatchObject({ vehicleId: null, status: 'requested' });
    expect(json<{ vehicleId: unknown }>(unknown).vehicleId).toBeNull();
    expect((await derek.api('GET', `/v1/vehicles/${vid('frank-old-car')}`)).status).toBe(404);
    // Bob (frank-old-car's owner now) consents: the dealer reaches that one vehicle.
    const bob = await as('bob');
    const caseId = json<{ id: string }>(asked).id;
    expect((await bob.api('POST', `/v1/service-cases/${caseId}/consent`, { days: 2 })).status).toBe(200);
    expect((await derek.api('GET', `/v1/vehicles/${vid('frank-old-car')}/diagnostics`)).status).toBe(200);
    expect((await bob.api('POST', `/v1/service-cases/${caseId}/consent`, { days: 2 })).status).toBe(404);
    expect((await derek.api('POST', `/v1/service-cases/${caseId}/close`, { resolution: 'fixed' })).status).toBe(200);
    expect((await derek.api('GET', `/v1/vehicles/${vid('frank-old-car')}/diagnostics`)).status).toBe(404);
    // A request the owner refuses never tells the dealer the vehicle's id either.
    const refusedCase = json<{ id: string }>(
      await derek.api('POST', `/v1/dealers/${dealer}/service-cases`, { vin: '5YJ3E1EA7KF000003', reason: 'recall' }),
    );
    expect(
      (await bob.api('POST', `/v1/service-cases/${refusedCase.id}/close`, { resolution: 'no thanks' })).json,
    ).toMatchObject({ status: 'refused' });
    const list = json<{ cases: Array<{ id: string; vehicleId: string | null; status: string }> }>(
      await derek.api('GET', `/v1/dealers/${dealer}/service-cases`),
    ).cases;
    expect(list.find((c) => c.id === refusedCase.id)).toMatchObject({ status: 'refused', vehicleId: null });
  });

  it('A former owner loses access after transfer', async () => {
    const frank = await as('frank');
    expect((await frank.api('GET', `/v1/vehicles/${vid('frank-old-car')}`)).status).toBe(404);
    // A live transfer ends the seller's access, their drivers' delegations and their partner consents at once.
    const bob = await as('bob');
    const chargenet = await as('chargenet-charging');
    expect((await chargenet.api('GET', `/v1/vehicles/${vid('bob-car')}/status`)).status).toBe(200);
    const moved = await bob.api('POST', `/v1/vehicles/${vid('bob-car')}/transfer`, { toEmail: 'frank@example.com' });
    expect(moved.status).toBe(200);
    expect(json<{ ended: Record<string, number> }>(moved).ended).toMatchObject({ ownership: 1, partner_grant: 1 });
    // Each relationship the transfer ended has its own audit event, naming its kind and the vehicle.
    const endedRows = await cp.platform.storage.db
      .selectFrom('relationships')
      .select(['id', 'kind'])
      .where('vehicle_id', '=', vid('bob-car'))
      .where('ended_at', 'is not', null)
      .where('end_reason', 'like', '%transferred%')
      .execute();
    expect(endedRows.map((r) => r.kind).sort()).toEqual(expect.arrayContaining(['ownership', 'partner_grant']));
    const endEvents = (await cp.platform.audit.list({ type: 'relationships.ended' })).filter((e) =>
      endedRows.some((r) => r.id === e.object?.id),
    );
    expect(endEvents).toHaveLength(endedRows.length);
    for (const r of endedRows)
      expect(endEvents.find((e) => e.object?.id === r.id)).toMatchObject({
        actor: { type: 'user' },
        details: expect.objectContaining({ kind: r.kind, vehicleId: vid('bob-car') }),
      });
    expect((await bob.api('GET', `/v1/vehicles/${vid('bob-car')}`)).status).toBe(404);
    expect((await chargenet.api('GET', `/v1/vehicles/${vid('bob-car')}/status`)).status).toBe(404);
    expect((await frank.api('GET', `/v1/vehicles/${vid('bob-car')}`)).status).toBe(200);
    // A transfer needs a sign-in with a second factor: Frank signed in with a password only.
    expect(
      (await frank.api('POST', `/v1/vehicles/${vid('bob-car')}/transfer`, { toEmail: 'bob@example.com' })).json,
    ).toMatchObject({ status: 403, code: 'ERR_FORBIDDEN' });
    // Transferring to an unknown account and to oneself get one answer.
    const a = await bob.api('POST', `/v1/vehicles/${vid('frank-old-car')}/transfer`, { toEmail: 'nobody@example.com' });
    const b = await bob.api('POST', `/v1/vehicles/${vid('frank-old-car')}/transfer`, { toEmail: 'bob@example.com' });
    expect([a.status, json<{ code: string }>(a).code, b.status, json<{ code: string }>(b).code]).toEqual([
      422,
      'ERR_TRANSFER_REFUSED',
      422,
      'ERR_TRANSFER_REFUSED',
    ]);
    const history = await cp.platform.storage.db
      .selectFrom('relationships')
      .select(['user_id', 'ended_at', 'end_reason'])
      .where('vehicle_id', '=', vid('bob-car'))
      .where('kind', '=', 'ownership')
      .execute();
    expect(history.filter((h) => h.ended_at !== null)).toHaveLength(1);
  });

  it('A driver invitation cannot be extended beyond the approved period', async () => {
    const alice = await as('alice');
    const dana = await as('dana');
    const until = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const inv = await alice.api('POST', `/v1/vehicles/${vid('alice-car')}/delegations`, {
      email: 'dana@example.com',
      commands: ['lock'],
      validUntil: until,
    });
    expect(inv.status).toBe(201);
    const { invite, code } = json<{ invite: { id: string }; code: string }>(inv);
    // The driver cannot carry a longer window in the acceptance, nor invite themselves again, nor re-share.
    const longer = await dana.api('POST', `/v1/delegation-invites/${invite.id}/accept`, {
      code,
      validUntil: new Date(Date.now() + 365 * 86_400_000).toISOString(),
    });
    expect(longer.json).toMatchObject({ status: 400, code: 'ERR_VALIDATION', field: 'body.validUntil' });
    expect(
      (
        await dana.api('POST', `/v1/vehicles/${vid('alice-car')}/delegations`, {
          email: 'dana@example.com',
          commands: ['unlock'],
          validUntil: new Date(Date.now() + 30 * 86_400_000).toISOString(),
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await dana.api('POST', `/v1/vehicles/${vid('alice-car')}/delegations`, {
          email: 'frank@example.com',
          commands: ['lock'],
          validUntil: until,
        })
      ).status,
    ).toBe(403);
    // Someone else cannot accept it with the code; the invitee accepts once and gets exactly the owner's window.
    expect((await (await as('frank')).api('POST', `/v1/delegation-invites/${invite.id}/accept`, { code })).status).toBe(
      404,
    );
    expect(
      (await dana.api('POST', `/v1/delegation-invites/${invite.id}/accept`, { code: 'x'.repeat(43) })).json,
    ).toMatchObject({ code: 'ERR_INVITE_INVALID' });
    const accepted = await dana.api('POST', `/v1/delegation-invites/${invite.id}/accept`, { code });
    expect(accepted.status).toBe(201);
    expect(json<{ validUntil: string; commands: string[] }>(accepted)).toMatchObject({
      validUntil: until,
      commands: ['lock'],
    });
    expect((await dana.api('POST', `/v1/delegation-invites/${invite.id}/accept`, { code })).status).toBe(404);
    // Nor can the owner backdate one (history would show access before it was granted).
    expect(
      (
        await alice.api('POST', `/v1/vehicles/${vid('alice-car')}/delegations`, {
          email: 'dana@example.com',
          commands: ['lock'],
          validFrom: new Date(Date.now() - 86_400_000).toISOString(),
          validUntil: until,
        })
      ).json,
    ).toMatchObject({ status: 400, field: 'validFrom' });
    // An invite sent by mistake is withdrawn by the owner, not by the invitee, and its code dies.
    const mistaken = json<{ invite: { id: string }; code: string }>(
      await alice.api('POST', `/v1/vehicles/${vid('alice-car')}/delegations`, {
        email: 'dana@example.com',
        commands: ['horn_lights'],
        validUntil: until,
      }),
    );
    expect(
      (await dana.api('POST', `/v1/delegation-invites/${mistaken.invite.id}/revoke`, { reason: 'no' })).status,
    ).toBe(404);
    expect(
      (await alice.api('POST', `/v1/delegation-invites/${mistaken.invite.id}/revoke`, { reason: 'wrong person' }))
        .status,
    ).toBe(200);
    expect(
      (await dana.api('POST', `/v1/delegation-invites/${mistaken.invite.id}/accept`, { code: mistaken.code })).status,
    ).toBe(404);
    // No route changes a delegation's window; the owner cannot exceed the maximum either.
    expect(
      (await dana.api('PATCH', `/v1/delegations/${json<{ id: string }>(accepted).id}`, { validUntil: until })).status,
    ).toBe(404);
    expect(
      (
        await alice.api('POST', `/v1/vehicles/${vid('alice-car')}/delegations`, {
          email: 'dana@example.com',
          commands: ['lock'],
          validUntil: new Date(Date.now() + 400 * 86_400_000).toISOString(),
        })
      ).json,
    ).toMatchObject({ status: 400, field: 'validUntil' });
  });

  it("A support agent's search respects role and case assignment", async () => {
    const sam = await as('sam');
    const sue = await as('sue');
    const search = async (c: Caller, email: string) =>
      c.api('GET', `/v1/support/accounts?email=${encodeURIComponent(email)}`);
    expect(
      json<{ accounts: Array<{ email: string }> }>(await search(sam, 'alice@example.com')).accounts.map((a) => a.email),
    ).toEqual(['alice@example.com']);
    expect(json<{ accounts: unknown[] }>(await search(sam, 'bob@example.com')).accounts).toEqual([]);
    expect(json<{ accounts: unknown[] }>(await search(sue, 'alice@example.com')).accounts).toEqual([]);
    expect((await search(await as('dana'), 'alice@example.com')).status).toBe(403);
    expect((await search(await as('derek'), 'alice@example.com')).status).toBe(403);
    const aliceId = (await cp.platform.directory.findUserByEmail('alice@example.com'))!.id;
    expect((await sam.api('GET', `/v1/accounts/${aliceId}`)).status).toBe(200);
    expect((await sue.api('GET', `/v1/accounts/${aliceId}`)).status).toBe(404);
    expect((await sam.api('GET', `/v1/vehicles/${vid('alice-car')}/location`)).status).toBe(200);
    expect((await sue.api('GET', `/v1/vehicles/${vid('alice-car')}`)).status).toBe(404);
    // Just-in-time approval: only a security admin, never for oneself, recorded in the audit trail.
    const cases = json<{ cases: Array<{ id: string; assigneeId: string }> }>(
      await sam.api('GET', '/v1/support-cases'),
    ).cases;
    expect(cases).toHaveLength(1);
    expect(
      (
        await sam.api('POST', `/v1/support-cases/${cases[0]!.id}/approvals`, {
          command: 'lock',
          reason: 'customer locked out',
        })
      ).status,
    ).toBe(403);
    const sean = await as('sean');
    const approved = await sean.api('POST', `/v1/support-cases/${cases[0]!.id}/approvals`, {
      command: 'lock',
      reason: 'customer asked to lock remotely',
    });
    expect(approved.status).toBe(201);
    const events = await cp.platform.audit.list({ type: 'relationships.support_case.command_approved', limit: 5 });
    expect(events[0]?.details).toMatchObject({ command: 'lock', agent: cases[0]!.assigneeId });
    expect((await sean.api('POST', `/v1/support-cases/${cases[0]!.id}/close`, { resolution: 'done' })).status).toBe(
      200,
    );
    expect(json<{ accounts: unknown[] }>(await search(sam, 'alice@example.com')).accounts).toEqual([]);
    expect((await sam.api('GET', `/v1/vehicles/${vid('alice-car')}`)).status).toBe(404);
  });

  it('A partner token never works on command or admin routes', async () => {
    const insights = await as('insights-readonly');
    expect((await insights.api('GET', `/v1/vehicles/${vid('alice-car')}/status`)).status).toBe(200);
    for (const [method, path, body] of [
      ['POST', `/v1/vehicles/${vid('alice-car')}/transfer`, { toEmail: 'x@example.com' }],
      [
        'POST',
        `/v1/vehicles/${vid('alice-car')}/delegations`,
        { email: 'x@example.com', commands: ['unlock'], validUntil: new Date(Date.now() + 86_400_000).toISOString() },
      ],
      [
        'POST',
        `/v1/vehicles/${vid('alice-car')}/partner-grants`,
        {
          clientId: 'insights-readonly',
          scopes: ['vehicle:location'],
          until: new Date(Date.now() + 86_400_000).toISOString(),
        },
      ],
      [
        'POST',
        '/v1/support-cases',
        { accountEmail: 'alice@example.com', assigneeEmail: 'sam@carapace.example', summary: 'x' },
      ],
      ['GET', `/v1/vehicles/${vid('alice-car')}/location`, undefined],
      ['GET', `/v1/vehicles/${vid('alice-car')}/diagnostics`, undefined],
      ['POST', '/admin/v1/revocations', { deviceId: crypto.randomUUID(), reason: 'x' }],
      ['GET', '/admin/v1/audit-events', undefined],
    ] as const) {
      const res = await insights.api(method, path, body);
      expect([403, 404], `${method} ${path}`).toContain(res.status);
    }
    // The admin plane itself wants an operator certificate, whatever bearer token comes along.
    const admin = await request(`${cp.addresses.admin}/admin/v1/audit-events`, {
      ca: cp.ca,
      headers: { authorization: 'DPoP x' },
    });
    expect(admin.status).toBe(401);
  });

  it('Mass assignment (e.g. ownerId, tenantId, role, status in a body) is refused and changes nothing', async () => {
    const alice = await as('alice');
    const fiona = await as('fiona');
    const db = cp.platform.storage.db;
    const count = async () =>
      Number(
        (
          await db
            .selectFrom('relationships')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      ) +
      Number(
        (
          await db
            .selectFrom('fleet_groups')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      ) +
      Number(
        (
          await db
            .selectFrom('delegation_invites')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const before = await count();
    const tenant = (
      await db.selectFrom('tenants').select(['id']).where('name', '=', 'Northwind Logistics').executeTakeFirstOrThrow()
    ).id;
    const until = new Date(Date.now() + 86_400_000).toISOString();
    for (const [who, path, body, field] of [
      [
        alice,
        `/v1/vehicles/${vid('alice-car')}/delegations`,
        { email: 'sue@carapace.example', commands: ['lock'], validUntil: until, ownerId: 'x' },
        'body.ownerId',
      ],
      [
        alice,
        `/v1/vehicles/${vid('alice-car')}/delegations`,
        { email: 'sue@carapace.example', commands: ['lock'], validUntil: until, status: 'accepted' },
        'body.status',
      ],
      [
        alice,
        `/v1/vehicles/${vid('alice-car')}/partner-grants`,
        { clientId: 'insights-readonly', scopes: ['vehicle:read_status'], until, tenantId: tenant },
        'body.tenantId',
      ],
      [alice, `/v1/vehicles/${vid('alice-car')}/transfer`, { toEmail: 'bob@example.com', role: 'owner' }, 'body.role'],
      [fiona, `/v1/fleets/${tenant}/groups`, { name: 'South', tenantId: crypto.randomUUID() }, 'body.tenantId'],
    ] as const) {
      const res = await who.api('POST', path, body);
      expect(res.json, path).toMatchObject({ status: 400, code: 'ERR_VALIDATION', field });
    }
    expect(await count()).toBe(before);
    expect((await alice.api('GET', `/v1/vehicles/${vid('alice-car')}`)).status).toBe(200);
  });

  it('Path and method variants of admin routes (case, trailing slash, encoded dots) are refused alike', async () => {
    const adminUrl = cp.addresses.admin;
    const tls = { ca: cp.ca, cert: cp.operatorTls.cert, key: cp.operatorTls.key };
    expect((await request(`${adminUrl}/admin/v1/audit-events`, tls)).status).toBe(200);
    for (const path of [
      '/ADMIN/v1/audit-events',
      '/admin/V1/audit-events',
      '/admin/v1/audit-events/',
      '/admin/v1/audit-events//',
      '/admin/v1/./audit-events',
      '/admin/v1/%2e/audit-events',
      '/admin/v1/x/%2e%2e/audit-events',
      '/admin/v1/audit-events%2f',
      '/admin/v1/audit-events;x',
      '/admin//v1/audit-events',
    ]) {
      const res = await rawRequest(adminUrl, path, tls);
      expect([400, 404], path).toContain(res.status);
    }
    // Percent-encoding an unreserved character names the same resource (RFC 3986): it gets the same checks.
    expect((await rawRequest(adminUrl, '/%61dmin/v1/audit-events', { ca: cp.ca })).status).toBe(
      (await rawRequest(adminUrl, '/admin/v1/audit-events', { ca: cp.ca })).status,
    );
    expect((await rawRequest(adminUrl, '/%61dmin/v1/audit-events', { ca: cp.ca })).status).toBe(401);
    for (const method of ['DELETE', 'PUT', 'PATCH'])
      expect((await request(`${adminUrl}/admin/v1/audit-events`, { ...tls, method })).status).toBe(404);
    // And never through the public listener, with or without a token.
    const alice = await as('alice');
    for (const path of [
      '/admin/v1/audit-events',
      '/ADMIN/v1/revocations',
      '/v1/../admin/v1/audit-events',
      '/v1/%2e%2e/admin/v1/audit-events',
    ]) {
      expect((await rawRequest(base, path, { ca: cp.ca })).status, path).toBe(404);
      expect((await alice.api('GET', path)).status, path).toBe(404);
    }
  });

  it('A support case follows the account, not a vehicle the account sold; nobody assigns a case to themselves', async () => {
    const sean = await as('sean');
    const sue = await as('sue');
    const bob = await as('bob');
    const opened = await sean.api('POST', '/v1/support-cases', {
      accountEmail: 'bob@example.com',
      assigneeEmail: 'sue@carapace.example',
      vehicleId: vid('frank-old-car'),
      summary: 'cannot connect',
    });
    expect(opened.status).toBe(201);
    const caseId = json<{ id: string }>(opened).id;
    expect((await sue.api('GET', `/v1/vehicles/${vid('frank-old-car')}`)).status).toBe(200);
    // Bob sells the car to Alice: the agent keeps Bob's account but not the car, and no approval can be given for it.
    expect(
      (await bob.api('POST', `/v1/vehicles/${vid('frank-old-car')}/transfer`, { toEmail: 'alice@example.com' })).status,
    ).toBe(200);
    expect((await sue.api('GET', `/v1/vehicles/${vid('frank-old-car')}`)).status).toBe(404);
    const bobId = (await cp.platform.directory.findUserByEmail('bob@example.com'))!.id;
    expect((await sue.api('GET', `/v1/accounts/${bobId}`)).status).toBe(200);
    expect(
      (await sean.api('POST', `/v1/support-cases/${caseId}/approvals`, { command: 'unlock', reason: 'x' })).json,
    ).toMatchObject({ status: 422, code: 'ERR_CASE_REFUSED' });
    // The new owner does not see the previous owner's service history.
    const alice = await as('alice');
    expect(
      json<{ cases: unknown[] }>(await alice.api('GET', `/v1/vehicles/${vid('frank-old-car')}/service-cases`)).cases,
    ).toEqual([]);
    // Separation of duties: a security admin cannot work a case, nor invite themselves into the agent role.
    const self = await sean.api('POST', '/v1/support-cases', {
      accountEmail: 'bob@example.com',
      assigneeEmail: 'sean@carapace.example',
      summary: 'x',
    });
    expect(self.json).toMatchObject({ status: 422, code: 'ERR_CASE_REFUSED' });
    const oem = (
      await cp.platform.storage.db
        .selectFrom('tenants')
        .select(['id'])
        .where('kind', '=', 'oem')
        .executeTakeFirstOrThrow()
    ).id;
    expect(
      (
        await sean.api('POST', `/v1/tenants/${oem}/invitations`, {
          email: 'sean@carapace.example',
          role: 'support_agent',
        })
      ).json,
    ).toMatchObject({ status: 403, reason: 'self_invitation' });
  });
});
