import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { readScenario } from '../src/server/index.js';
import { startTestCarapace, type TestCarapace } from '../src/testing/index.js';

const scenario = readScenario('scenarios/demo.yaml');
const engines = ['sqlite' as const, ...(process.env.DATABASE_URL ? ['postgres' as const] : [])];

// Access rules that used to live in handlers are Cedar policies now: each refusal is the policy's, and
// leaves a deny event naming the actor, the tenant, the object, the action, the reason and the request.
describe.each(engines)('access decisions in the policies (%s)', (database) => {
  let cp: TestCarapace;
  let carId = '';
  let household = '';
  // One sign-in: a one-time code is good once. The token holds lock and climate, not charging.
  let alice: CarapaceClient;

  // A one-time code is good once, so each person signs in once per run (same scopes each time).
  const signedIn = new Map<string, Promise<CarapaceClient>>();
  const login = (key: string, scopes: string[], clientId = 'carapace-owner-app') => {
    const known = signedIn.get(key) ?? signIn(key, scopes, clientId);
    signedIn.set(key, known);
    return known;
  };
  const signIn = async (key: string, scopes: string[], clientId: string) => {
    const u = scenario.users.find((x) => x.key === key)!;
    const c = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId,
      redirectUri: 'http://127.0.0.1/callback',
    });
    await c.login({
      email: u.email,
      password: u.password,
      scopes,
      ...(u.totp ? { totp: () => currentTotp(u.totp!, new Date()) } : {}),
    });
    return c;
  };
  const userId = async (key: string) => {
    const email = scenario.users.find((x) => x.key === key)!.email;
    const row = await cp.platform.storage.db
      .selectFrom('users')
      .select(['id'])
      .where('email', '=', email)
      .executeTakeFirstOrThrow();
    return row.id;
  };
  const denyEvent = async (requestId: string, action: string) => {
    const events = await cp.platform.audit.list({ requestId, type: 'authz.decision', decision: 'deny' });
    return events.find((e) => e.action === action);
  };

  beforeAll(async () => {
    cp = await startTestCarapace({ database, overrides: { seedDemo: true } });
    const db = cp.platform.storage.db;
    carId = (
      await db.selectFrom('vehicles').select(['id']).where('vin', '=', '5YJ3E1EA7KF000001').executeTakeFirstOrThrow()
    ).id;
    household = (
      await db.selectFrom('tenants').select(['id']).where('name', '=', "Alice's household").executeTakeFirstOrThrow()
    ).id;
    alice = await login('alice', ['openid', 'vehicle:read_status', 'vehicle:lock', 'vehicle:climate']);
  }, 120_000);
  afterAll(async () => cp?.stop());

  it("refuses a command outside the token's per-command scope, by policy, with a deny event", async () => {
    const r = await alice.api(
      'POST',
      `/v1/vehicles/${carId}/commands`,
      { command: 'charge_start' },
      {
        'idempotency-key': 'scope-1',
      },
    );
    expect(r.status).toBe(403);
    expect(r.json).toMatchObject({ code: 'ERR_FORBIDDEN', reason: 'missing_scope' });
    const event = await denyEvent(String(r.headers['x-request-id']), 'vehicle:command');
    expect(event).toMatchObject({
      actor: { type: 'user', id: await userId('alice') },
      tenantId: household,
      object: { type: 'Vehicle', id: carId },
      reason: 'no_permit',
      details: expect.objectContaining({ forbiddenBy: ['commands.missing-scope'] }),
    });
    const jobs = await cp.platform.storage.db
      .selectFrom('command_jobs')
      .select(['id'])
      .where('vehicle_id', '=', carId)
      .where('command', '=', 'charge_start')
      .execute();
    expect(jobs).toEqual([]);
  });

  it('records a refusal its handler decides after the object was allowed, as a deny event with the same facts', async () => {
    // Lock is physical: without an Idempotency-Key the handler refuses, after the policies allowed the owner.
    const r = await alice.api('POST', `/v1/vehicles/${carId}/commands`, { command: 'lock' });
    expect(r.status).toBe(400);
    expect((r.json as { code: string }).code).toBe('ERR_IDEMPOTENCY_KEY_REQUIRED');
    const event = await denyEvent(String(r.headers['x-request-id']), 'vehicle:command');
    expect(event).toMatchObject({
      actor: { type: 'user', id: await userId('alice') },
      tenantId: household,
      object: { type: 'Vehicle', id: carId },
      decision: 'deny',
      reason: 'ERR_IDEMPOTENCY_KEY_REQUIRED',
      details: { refusedBy: 'handler' },
    });
    // Bad input is not a refusal: an unknown field is a 400 with no deny event.
    const bad = await alice.api('POST', `/v1/vehicles/${carId}/commands`, { command: 'lock', nope: 1 });
    expect(bad.status).toBe(400);
    expect(await denyEvent(String(bad.headers['x-request-id']), 'vehicle:command')).toBeUndefined();
  });

  it('accepts form bodies only on the sign-in pages, never on a JSON API route', async () => {
    // The sign-in above posted its forms; a command sent as a form is a 415 before any handler runs.
    const jobs = () =>
      cp.platform.storage.db.selectFrom('command_jobs').select(['id']).where('vehicle_id', '=', carId).execute();
    const before = (await jobs()).length;
    const res = await alice.api('POST', `/v1/vehicles/${carId}/commands`, 'command=lock', {
      'content-type': 'application/x-www-form-urlencoded',
      'idempotency-key': 'form-body-1',
    });
    expect(res.status).toBe(415);
    expect((await jobs()).length).toBe(before);
  });

  it("hides the owner's job from a driver of the car (404 like a missing job), with a deny event", async () => {
    // The job exists whether or not the vehicle's state lets it run: a rejection still names it.
    const made = await alice.api(
      'POST',
      `/v1/vehicles/${carId}/commands`,
      { command: 'climate', params: { on: true } },
      { 'idempotency-key': 'job-visibility-1' },
    );
    const jobId = ((made.json as { id?: string; job?: string }).id ?? (made.json as { job?: string }).job) as string;
    expect(jobId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await alice.api('GET', `/v1/vehicles/${carId}/commands/${jobId}`)).status).toBe(200);

    const dana = await login('dana', ['openid', 'vehicle:read_status', 'vehicle:lock']);
    const r = await dana.api('GET', `/v1/vehicles/${carId}/commands/${jobId}`);
    const missing = await dana.api('GET', `/v1/vehicles/${carId}/commands/00000000-0000-4000-8000-000000000000`);
    expect(r.status).toBe(404);
    expect(missing.status).toBe(404);
    const strip = (j: unknown) => ({ ...(j as Record<string, unknown>), instance: '' });
    expect(strip(r.json)).toEqual(strip(missing.json));
    const event = await denyEvent(String(r.headers['x-request-id']), 'command_job:read');
    expect(event).toMatchObject({
      actor: { type: 'user', id: await userId('dana') },
      tenantId: household,
      object: { type: 'CommandJob', id: jobId },
      reason: 'no_permit',
    });
    // The driver's own vehicle-level right is intact: the refusal is about this job only.
    const allowed = await cp.platform.audit.list({
      requestId: String(r.headers['x-request-id']),
      type: 'authz.decision',
      decision: 'allow',
    });
    expect(allowed.map((e) => e.action)).toEqual(['vehicle:read_command']);
  });

  it("lists a vehicle's jobs through the policies, a page at a time: the owner all, a driver none of the owner's", async () => {
    for (let i = 0; i < 3; i++)
      await alice.api(
        'POST',
        `/v1/vehicles/${carId}/commands`,
        { command: 'climate', params: { on: i % 2 === 0 } },
        { 'idempotency-key': `job-list-${i}` },
      );
    const all = (await alice.api('GET', `/v1/vehicles/${carId}/commands`)).json as {
      jobs: Array<{ id: string }>;
      next?: string;
    };
    expect(all.jobs.length).toBeGreaterThanOrEqual(3);
    expect(all.next).toBeUndefined();
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page <= all.jobs.length; page++) {
      const r = await alice.api('GET', `/v1/vehicles/${carId}/commands?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      const body = r.json as { jobs: Array<{ id: string }>; next?: string };
      seen.push(...body.jobs.map((j) => j.id));
      cursor = body.next;
      if (!cursor) break;
    }
    expect(seen).toEqual(all.jobs.map((j) => j.id));
    expect((await alice.api('GET', `/v1/vehicles/${carId}/commands?cursor=bm9wZQ`)).status).toBe(400);
    // Dana drives the car: whatever she may list, none of the owner's jobs is in it.
    const dana = await login('dana', ['openid', 'vehicle:read_status', 'vehicle:lock']);
    const hers = await dana.api('GET', `/v1/vehicles/${carId}/commands`);
    expect([200, 403, 404]).toContain(hers.status);
    for (const job of all.jobs) expect(hers.text).not.toContain(job.id);
  });

  it('refuses a support agent an account outside their cases, with a deny event in their tenant', async () => {
    const sam = await login('sam', ['openid', 'vehicle:read_status', 'support:read'], 'carapace-support-console');
    const bob = await userId('bob');
    const r = await sam.api('GET', `/v1/accounts/${bob}`);
    expect(r.status).toBe(404);
    const operator = await cp.platform.storage.db
      .selectFrom('tenants')
      .select(['id'])
      .where('kind', '=', 'oem')
      .executeTakeFirstOrThrow();
    expect(await denyEvent(String(r.headers['x-request-id']), 'account:read')).toMatchObject({
      actor: { type: 'user', id: await userId('sam') },
      tenantId: operator.id,
      object: { type: 'Account', id: bob },
    });
  });

  it('pages the vehicle list with an opaque cursor, each page decided in one batch', async () => {
    const fiona = await login('fiona', ['openid', 'fleet:read', 'vehicle:read_status'], 'carapace-fleet-console');
    const all = (await fiona.api('GET', '/v1/vehicles')).json as { vehicles: Array<{ id: string }>; next?: string };
    expect(all.vehicles.length).toBeGreaterThanOrEqual(2);
    expect(all.next).toBeUndefined();
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < all.vehicles.length + 1; page++) {
      const r = await fiona.api('GET', `/v1/vehicles?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      const body = r.json as { vehicles: Array<{ id: string }>; next?: string };
      seen.push(...body.vehicles.map((v) => v.id));
      cursor = body.next;
      if (!cursor) break;
    }
    expect(seen).toEqual(all.vehicles.map((v) => v.id));
    expect((await fiona.api('GET', '/v1/vehicles?cursor=bm9wZQ')).status).toBe(400);
    expect((await fiona.api('GET', '/v1/vehicles?limit=0')).status).toBe(400);
    expect((await fiona.api('GET', '/v1/vehicles?offset=1')).status).toBe(400);
  });

  it('bounds the candidates one list request decides: a short page still says where to go on, and none is lost', async () => {
    const oscar = await login('oscar', ['openid', 'fleet:read', 'vehicle:read_status'], 'carapace-fleet-console');
    const before = (await oscar.api('GET', '/v1/vehicles')).json as { vehicles: Array<{ id: string }> };
    expect(before.vehicles.length).toBeGreaterThan(0);
    // 1,100 fleet vehicles outside Oscar's group, with ids that sort before every vehicle he may see.
    const db = cp.platform.storage.db;
    const northwind = (
      await db.selectFrom('tenants').select(['id']).where('name', '=', 'Northwind Logistics').executeTakeFirstOrThrow()
    ).id;
    const at = new Date(Date.now() - 60_000).toISOString();
    for (let batch = 0; batch < 11; batch++) {
      const ids = Array.from(
        { length: 100 },
        (_, i) => `00000000-0000-4000-8000-${String(batch * 100 + i).padStart(12, '0')}`,
      );
      await db
        .insertInto('vehicles')
        .values(ids.map((id) => ({ id, vin: null, created_at: at })))
        .execute();
      await db
        .insertInto('relationships')
        .values(
          ids.map((id) => ({
            id: `rel-${id}`,
            kind: 'fleet_vehicle' as const,
            user_id: null,
            tenant_id: northwind,
            application_id: null,
            vehicle_id: id,
            group_id: null,
            account_id: null,
            attributes: '{}',
            granted_by: 'system:test',
            granted_at: at,
            valid_from: at,
            valid_until: null,
            ended_at: null,
            ended_by: null,
            end_reason: null,
          })),
        )
        .execute();
    }
    const first = (await oscar.api('GET', '/v1/vehicles?limit=100')).json as { vehicles: unknown[]; next?: string };
    // 500 candidates decided, none his: an empty page that still points on.
    expect(first.vehicles).toEqual([]);
    expect(first.next).toBeDefined();
    const seen: string[] = [];
    let cursor: string | undefined;
    let requests = 0;
    do {
      const r = await oscar.api('GET', `/v1/vehicles?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      const body = r.json as { vehicles: Array<{ id: string }>; next?: string };
      seen.push(...body.vehicles.map((v) => v.id));
      cursor = body.next;
      requests++;
    } while (cursor && requests < 20);
    expect(seen).toEqual(before.vehicles.map((v) => v.id));
    expect(requests).toBeGreaterThanOrEqual(3);
  });

  it('refuses an invitation to a privileged role from someone without the granting role, with a deny event', async () => {
    // Alice may invite to her household (a driver, say), but only a security admin makes a security admin.
    const r = await alice.api('POST', `/v1/tenants/${household}/invitations`, {
      email: 'mallory@example.com',
      role: 'security_admin',
    });
    expect(r.status).toBe(403);
    expect(r.json).toMatchObject({ code: 'ERR_FORBIDDEN', reason: 'granting_role_required' });
    expect(await denyEvent(String(r.headers['x-request-id']), 'identity:invite')).toMatchObject({
      actor: { type: 'user', id: await userId('alice') },
      tenantId: household,
      object: { type: 'Tenant', id: household },
      details: expect.objectContaining({ forbiddenBy: ['self.invite-needs-granting-role'] }),
    });
    const invited = await cp.platform.storage.db
      .selectFrom('invitations')
      .select(['id'])
      .where('tenant_id', '=', household)
      .where('role', '=', 'security_admin')
      .execute();
    expect(invited).toEqual([]);
  });

  it('lets only the addressee use an invitation, and only while the inviter still holds the granting role', async () => {
    const db = cp.platform.storage.db;
    const northwind = (
      await db.selectFrom('tenants').select(['id']).where('name', '=', 'Northwind Logistics').executeTakeFirstOrThrow()
    ).id;
    const fiona = await login('fiona', ['openid']);
    const invite = async (email: string) => {
      const r = await fiona.api('POST', `/v1/tenants/${northwind}/invitations`, { email, role: 'fleet_operator' });
      expect(r.status).toBe(201);
      return r.json as { id: string; code: string };
    };
    const person = async (email: string) => {
      await cp.platform.directory.createUser(
        { type: 'system', id: 'seed' },
        { email, displayName: email, password: 'a long enough password' },
      );
      const c = await CarapaceClient.create({
        baseUrl: cp.config.publicBaseUrl,
        ca: cp.ca,
        clientId: 'carapace-owner-app',
        redirectUri: 'http://127.0.0.1/callback',
      });
      await c.login({ email, password: 'a long enough password', scopes: ['openid'] });
      return c;
    };
    const first = await invite('nina@northwind.example');
    const [nina, otto] = [await person('nina@northwind.example'), await person('otto@northwind.example')];
    const accept = (c: CarapaceClient, code: string) => c.api('POST', '/v1/invitations/accept', { code });
    const roles = (email: string) =>
      db
        .selectFrom('memberships')
        .innerJoin('users', 'users.id', 'memberships.user_id')
        .select(['memberships.role'])
        .where('users.email', '=', email)
        .where('memberships.ended_at', 'is', null)
        .execute();

    // Someone else's code: the same 404 as an unknown one, and a deny event on the invitation.
    const stolen = await accept(otto, first.code);
    expect(stolen.status).toBe(404);
    expect((await accept(otto, 'x'.repeat(32))).status).toBe(404);
    expect(await denyEvent(String(stolen.headers['x-request-id']), 'invitation:accept')).toMatchObject({
      tenantId: northwind,
      object: { type: 'Invitation', id: first.id },
      reason: 'no_permit',
    });

    // The inviter lost the granting role before the invitation was used: it grants nothing.
    const fionaId = await userId('fiona');
    const ended = { ended_at: new Date().toISOString() };
    await db
      .updateTable('memberships')
      .set(ended)
      .where('user_id', '=', fionaId)
      .where('role', '=', 'fleet_admin')
      .execute();
    const orphaned = await accept(nina, first.code);
    expect(orphaned.status).toBe(404);
    expect(await denyEvent(String(orphaned.headers['x-request-id']), 'invitation:accept')).toMatchObject({
      actor: { type: 'user' },
      object: { type: 'Invitation', id: first.id },
    });
    expect(await roles('nina@northwind.example')).toEqual([]);

    // With the role back, the addressee accepts once; the second use is refused.
    await db
      .updateTable('memberships')
      .set({ ended_at: null })
      .where('user_id', '=', fionaId)
      .where('role', '=', 'fleet_admin')
      .execute();
    const ok = await accept(nina, first.code);
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ tenantId: northwind, role: 'fleet_operator' });
    expect((await accept(nina, first.code)).status).toBe(404);
    expect(await roles('nina@northwind.example')).toEqual([{ role: 'fleet_operator' }]);
  });

  it('pages every growing list with a cursor that only its own list accepts, losing and repeating nothing', async () => {
    const db = cp.platform.storage.db;
    const tenantId = async (name: string) =>
      (await db.selectFrom('tenants').select(['id']).where('name', '=', name).executeTakeFirstOrThrow()).id;
    const walk = async (c: CarapaceClient, path: string, field: string) => {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const r = await c.api('GET', `${path}?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
        expect(r.status).toBe(200);
        const body = r.json as Record<string, Array<{ id: string }>> & { next?: string };
        expect(body[field]!.length).toBeLessThanOrEqual(1);
        seen.push(...body[field]!.map((x) => x.id));
        cursor = body.next;
        pages++;
      } while (cursor && pages < 20);
      return { seen, pages };
    };
    // A fleet's groups, by name.
    const contoso = await tenantId('Contoso Deliveries');
    const carl = await signIn('carl', ['openid', 'fleet:read', 'fleet:admin'], 'carapace-fleet-console');
    for (const name of ['Depot C', 'Depot A', 'Depot B'])
      expect((await carl.api('POST', `/v1/fleets/${contoso}/groups`, { name })).status).toBe(201);
    const all = (await carl.api('GET', `/v1/fleets/${contoso}/groups`)).json as { groups: Array<{ id: string }> };
    const groups = await walk(carl, `/v1/fleets/${contoso}/groups`, 'groups');
    expect(groups.seen).toEqual(all.groups.map((g) => g.id));
    expect(groups.pages).toBe(3);
    // A dealer's cases, newest first.
    const dealer = await tenantId('Main Street Motors');
    const derek = await login('derek', ['openid', 'vehicle:diagnostics'], 'carapace-dealer-tool');
    const cases = (await derek.api('GET', `/v1/dealers/${dealer}/service-cases`)).json as {
      cases: Array<{ id: string }>;
    };
    expect(cases.cases.length).toBeGreaterThanOrEqual(2);
    expect((await walk(derek, `/v1/dealers/${dealer}/service-cases`, 'cases')).seen).toEqual(
      cases.cases.map((c) => c.id),
    );
    // A cursor is only good for the list that gave it out, and a forged one is a 400, never a 500.
    const first = (await carl.api('GET', `/v1/fleets/${contoso}/groups?limit=1`)).json as { next: string };
    const foreign = await derek.api('GET', `/v1/dealers/${dealer}/service-cases?cursor=${first.next}`);
    expect(foreign.status).toBe(400);
    expect(foreign.json).toMatchObject({ code: 'ERR_VALIDATION' });
    const forged = Buffer.from('groups:{"not":"a position"}').toString('base64url');
    expect((await carl.api('GET', `/v1/fleets/${contoso}/groups?cursor=${forged}`)).status).toBe(400);
    expect((await carl.api('GET', `/v1/fleets/${contoso}/groups?limit=101`)).status).toBe(400);
    const sam = await login('sam', ['openid', 'vehicle:read_status', 'support:read'], 'carapace-support-console');
    expect((await sam.api('GET', `/v1/support-cases?cursor=${first.next}`)).status).toBe(400);
    expect((await sam.api('GET', '/v1/support-cases?limit=1')).status).toBe(200);
  });

  it("lists only the support cases the policies let the caller read: never another agent's", async () => {
    const sue = await login('sue', ['openid', 'support:read'], 'carapace-support-console');
    const sam = await login('sam', ['openid', 'vehicle:read_status', 'support:read'], 'carapace-support-console');
    const cases = (c: CarapaceClient) =>
      c.api('GET', '/v1/support-cases').then((r) => (r.json as { cases: Array<{ assigneeId: string }> }).cases);
    const samId = await userId('sam');
    const mine = await cases(sam);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((c) => c.assigneeId === samId)).toBe(true);
    expect(await cases(sue)).toEqual([]);
  });
});
