import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixedClock } from '../src/platform/index.js';
import { request } from '../src/client/index.js';
import { type GatewayClient, httpsRequest } from '../src/vehicle-sdk/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { DEMO_OPERATORS, seedDemoOperators } from '../src/operators/index.js';
import { addPerson, consoleCall, type Person, problemOf, signIn } from './operators-support.js';

const MINUTE = 60_000;
const SYSTEM = { type: 'system' as const, id: null };

/** The admin actions per role as the README documents them; the policy must say exactly this. */
const EXPECTED_WRITES = {
  viewer: [],
  responder: [
    'detect:update_finding',
    'incidents:approve_step',
    'incidents:assign',
    'incidents:attach_finding',
    'incidents:note',
    'incidents:open',
    'incidents:run_playbook',
    'incidents:scope',
    'incidents:transition',
    'pki:transition_device',
    'telemetry:release_quarantine',
    'webhooks:replay',
  ],
  pki_officer: [
    'auth:revoke_client_tokens',
    'commands:manage_keys',
    'pki:replace_device',
    'pki:revoke',
    'pki:transition_device',
  ],
};

describe.each(testEngines())('operators and roles on the admin plane (%s)', (database) => {
  const clock = new FixedClock();
  let cp: TestCarapace;
  const people: Record<string, Person> = {};
  let deviceId: string;
  let lifecycleUnit: GatewayClient;
  // Issued before the clock moves: TLS judges a certificate's notBefore by the real time.
  let viewerCert: { cert: string; key: string };
  let unbound: { cert: string; key: string };

  // Each sign-in of a person uses a new TOTP step: the clock moves half a minute first.
  const freshSignIn = async (who: string) => {
    clock.advance(31_000);
    return signIn(cp, people[who]!, clock);
  };
  const session = async (who: string) => {
    const s = await freshSignIn(who);
    if (!s.session) throw new Error(`${who} got no session: ${s.final.text.slice(0, 200)}`);
    return s.session;
  };
  const asCert = (tls: { cert: string; key: string }, method: string, path: string, body?: unknown, headers = {}) =>
    httpsRequest(`${cp.addresses.admin}${path}`, {
      method,
      ca: cp.ca,
      cert: tls.cert,
      key: tls.key,
      headers: { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const issueCert = async (name: string, role: string) => {
    const issued = await cp.platform.pki.issueOperatorCertificate({
      name,
      csrPem: null,
      actor: { type: 'system', id: null },
    });
    await cp.platform.operators.directory.bindCertificate(
      { type: 'system', id: null },
      { name, serial: issued.serial, role },
    );
    return { cert: issued.certificatePem, key: issued.privateKeyPem as string };
  };

  beforeAll(async () => {
    cp = await startTestCarapace({ database, clock });
    people.vera = await addPerson(cp, 'vera', ['viewer']);
    people.rob = await addPerson(cp, 'rob', ['responder']);
    people.pia = await addPerson(cp, 'pia', ['pki_officer']);
    people.sam = await addPerson(cp, 'sam', ['security_admin']);
    people.nina = await addPerson(cp, 'nina', ['responder'], false);
    people.otto = await addPerson(cp, 'otto', []);
    people.dan = await addPerson(cp, 'dan', ['responder']);
    viewerCert = await issueCert('viewer-bot', 'viewer');
    const loose = await cp.platform.pki.issueOperatorCertificate({ name: 'loose', csrPem: null, actor: SYSTEM });
    unbound = { cert: loose.certificatePem, key: loose.privateKeyPem as string };
    const device = await cp.enrolledDevice('TCU-OPS-1');
    deviceId = device.credentials!.issued.deviceId;
    // Enrolled before the clock moves too: after a dozen sign-ins it runs minutes ahead of the real time TLS uses.
    lifecycleUnit = await cp.enrolledDevice('TCU-OPS-LIFECYCLE');
  }, 60_000);
  afterAll(() => cp?.stop());

  it('the policy gives each role exactly the documented actions, and every admin route an action it knows', () => {
    const byRole = cp.platform.operators.authorization.actionsByRole();
    const reads = byRole.viewer;
    expect(reads).toContain('audit:read');
    expect(reads).not.toContain('pki:revoke');
    for (const role of ['viewer', 'responder', 'pki_officer'] as const)
      expect(byRole[role].filter((a) => !reads.includes(a))).toEqual(EXPECTED_WRITES[role]);
    // The security admin holds every admin action.
    expect(byRole.security_admin).toEqual([...cp.platform.operators.authorization.actions].sort());
    expect(cp.platform.operators.authorization.fleetWideActions()).toEqual(new Set(['auth:revoke_client_tokens']));
    const routes = cp.listeners.admin.routes.filter((r) => r.facts.auth.kind === 'operator');
    expect(routes.length).toBeGreaterThan(40);
    for (const r of routes) expect(cp.platform.operators.authorization.actions, r.url).toContain(r.entry.action);
  });

  it('a person signs in through the authorization server with MFA and the console reads who it is', async () => {
    const s = await freshSignIn('vera');
    expect(s.final.status).toBe(303);
    expect(s.final.headers.location).toBe('/console/');
    const set = ([] as string[]).concat(s.final.headers['set-cookie'] ?? []).join('\n');
    expect(set).toMatch(/__Host-carapace-operator=[A-Za-z0-9_-]{43}; HttpOnly; Secure; SameSite=Strict; Path=\//);
    const me = await consoleCall(cp, s.session!, 'GET', '/admin/v1/operator/me');
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ name: 'vera', kind: 'person', roles: ['viewer'], elevation: null });
    expect(Object.keys(me.json as object).sort()).toEqual(['elevation', 'kind', 'may', 'name', 'roles']);
    // Stored hashed: the cookie value is nowhere in the database.
    const rows = await cp.platform.storage.db.selectFrom('operator_sessions').select('id_hash').execute();
    expect(rows.map((r) => r.id_hash)).not.toContain(s.session);
  });

  it('a viewer cannot revoke (403 forbidden, audited) but reads', async () => {
    const vera = await session('vera');
    const revoke = await consoleCall(cp, vera, 'POST', '/admin/v1/revocations', { deviceId, reason: 'keyCompromise' });
    expect(revoke.status).toBe(403);
    expect(problemOf(revoke)).toEqual({ type: 'forbidden', code: 'ERR_FORBIDDEN' });
    expect((await consoleCall(cp, vera, 'GET', `/admin/v1/devices/${deviceId}`)).status).toBe(200);
    const denied = await cp.platform.audit.list({ type: 'operators.action.denied', actorId: 'vera' });
    expect(denied[0]).toMatchObject({ action: 'pki:revoke', decision: 'deny', reason: 'forbidden' });
    expect(denied[0]!.policyVersion).toMatch(/^sha256:/);
  });

  it('a certificate bound to the viewer role cannot revoke; an unbound certificate is refused', async () => {
    const res = await asCert(viewerCert, 'POST', '/admin/v1/revocations', { deviceId, reason: 'keyCompromise' });
    expect(res.status).toBe(403);
    expect((await asCert(viewerCert, 'GET', `/admin/v1/devices/${deviceId}`)).status).toBe(200);
    const loose = await asCert(unbound, 'GET', '/admin/v1/audit-events');
    expect(loose.status).toBe(401);
  });

  it('a responder cannot revoke or retire a device through its lifecycle, even elevated; a PKI officer, elevated, can', async () => {
    const unit = lifecycleUnit;
    const id = unit.credentials!.issued.deviceId;
    const to = (session: string, status: string) =>
      consoleCall(cp, session, 'POST', `/admin/v1/devices/${id}/status`, { status, reason: 'lifecycle test' });
    const rob = await session('dan');
    await consoleCall(cp, rob, 'POST', '/admin/v1/elevations', { reason: 'trying to revoke', minutes: 5 });
    for (const status of ['revoked', 'decommissioned']) expect(problemOf(await to(rob, status)).type).toBe('forbidden');
    const pia = await session('pia');
    expect(problemOf(await to(pia, 'decommissioned')).type).toBe('elevation-required');
    await unit.self();
    await consoleCall(cp, pia, 'POST', '/admin/v1/elevations', { reason: 'retiring the unit', minutes: 5 });
    expect((await to(pia, 'revoked')).status).toBe(200);
    await expect(unit.self()).rejects.toThrow();
    unit.close();
  });

  it('a playbook is no way around a role: its automatic steps need what the starter may take, as do approvals', async () => {
    const dan = await session('dan');
    await consoleCall(cp, dan, 'POST', '/admin/v1/elevations', { reason: 'partner scraping', minutes: 5 });
    const opened = await consoleCall(cp, dan, 'POST', '/admin/v1/incidents', {
      title: 'partner scraping',
      severity: 'high',
      assets: { clients: ['nobody-client'] },
    });
    expect(opened.status).toBe(201);
    const incident = (opened.json as { incident: { id: string } }).incident.id;
    const run = (who: string) =>
      consoleCall(cp, who, 'POST', `/admin/v1/incidents/${incident}/playbooks/partner-compromise/runs`);
    // client.revoke_tokens is a PKI officer's fleet-wide action: a responder's run is refused before any step runs.
    const refused = await run(dan);
    expect(problemOf(refused).type).toBe('forbidden');
    expect(
      ((await consoleCall(cp, dan, 'GET', `/admin/v1/incidents/${incident}/runs`)).json as { runs: [] }).runs,
    ).toEqual([]);
    // A playbook whose automatic steps are all containment is a responder's to run.
    expect(
      (await consoleCall(cp, dan, 'POST', `/admin/v1/incidents/${incident}/playbooks/account-takeover/runs`)).status,
    ).toBe(201);
  });

  it('a responder quarantines, cannot release without elevation, can with, and the elevation expires', async () => {
    const rob = await session('rob');
    const status = (to: string) =>
      consoleCall(cp, rob, 'POST', `/admin/v1/devices/${deviceId}/status`, { status: to, reason: 'suspicious' });
    expect((await status('quarantined')).status).toBe(200);
    const refused = await status('active');
    expect(refused.status).toBe(403);
    expect(problemOf(refused).type).toBe('elevation-required');
    const telemetryRelease = await consoleCall(cp, rob, 'POST', `/admin/v1/telemetry/quarantines/${deviceId}/release`, {
      reason: 'x',
    });
    expect(problemOf(telemetryRelease).type).toBe('elevation-required');
    // An elevation needs a reason and stays within the configured maximum (30 minutes by default).
    expect((await consoleCall(cp, rob, 'POST', '/admin/v1/elevations', { minutes: 10 })).status).toBe(400);
    expect((await consoleCall(cp, rob, 'POST', '/admin/v1/elevations', { reason: 'INC-7', minutes: 31 })).status).toBe(
      400,
    );
    const elevated = await consoleCall(cp, rob, 'POST', '/admin/v1/elevations', {
      reason: 'INC-7 release',
      minutes: 10,
    });
    expect(elevated.status).toBe(201);
    expect((await consoleCall(cp, rob, 'GET', '/admin/v1/operator/me')).json).toMatchObject({
      elevation: { reason: 'INC-7 release' },
    });
    expect((await status('active')).status).toBe(200);
    const opened = await cp.platform.audit.list({ type: 'operators.action.allowed', actorId: 'rob' });
    expect(opened[0]).toMatchObject({ action: 'pki:transition_device', reason: 'elevated' });
    expect((await cp.platform.audit.list({ type: 'operators.elevation.started', actorId: 'rob' }))[0]).toMatchObject({
      reason: 'INC-7 release',
    });
    expect((await status('quarantined')).status).toBe(200);
    clock.advance(10 * MINUTE + 1000);
    expect(problemOf(await status('active')).type).toBe('elevation-required');
    // Still a responder: no elevation turns it into a PKI officer.
    await consoleCall(cp, rob, 'POST', '/admin/v1/elevations', { reason: 'INC-7', minutes: 5 });
    const revoke = await consoleCall(cp, rob, 'POST', '/admin/v1/revocations', { deviceId, reason: 'keyCompromise' });
    expect(problemOf(revoke).type).toBe('forbidden');
  });

  it("the console is told what Cedar allows the operator now: a viewer reads, a responder's release needs elevation", async () => {
    type Permission = { action: string; targetStatus?: string; needs: string };
    const mayOf = async (s: string) =>
      ((await consoleCall(cp, s, 'GET', '/admin/v1/operator/me')).json as { may: Permission[] }).may;
    const needs = (may: Permission[], action: string, targetStatus?: string) =>
      may.find((p) => p.action === action && p.targetStatus === targetStatus)?.needs ?? 'denied';
    const viewer = await mayOf(await session('vera'));
    expect(needs(viewer, 'audit:read')).toBe('nothing');
    expect(needs(viewer, 'pki:revoke')).toBe('denied');
    expect(needs(viewer, 'detect:update_finding')).toBe('denied');
    expect(viewer.every((p) => p.needs === 'nothing')).toBe(true);
    const rob = await session('rob');
    const before = await mayOf(rob);
    expect(needs(before, 'pki:transition_device', 'quarantined')).toBe('nothing');
    expect(needs(before, 'pki:transition_device', 'active')).toBe('elevation');
    expect(needs(before, 'pki:transition_device', 'revoked')).toBe('denied');
    expect(needs(before, 'incidents:run_playbook')).toBe('elevation');
    expect(needs(before, 'pki:revoke')).toBe('denied');
    await consoleCall(cp, rob, 'POST', '/admin/v1/elevations', { reason: 'INC-8 triage', minutes: 5 });
    const after = await mayOf(rob);
    expect(needs(after, 'pki:transition_device', 'active')).toBe('nothing');
    expect(needs(after, 'incidents:run_playbook')).toBe('nothing');
    expect(needs(after, 'pki:revoke')).toBe('denied');
    // The list is the policy's answer, not a copy: each role's actions (elevated, approved) are exactly these.
    const byRole = cp.platform.operators.authorization.actionsByRole();
    expect([...new Set(after.map((p) => p.action))].sort()).toEqual(byRole.responder);
    const pia = await session('pia');
    expect(needs(await mayOf(pia), 'auth:revoke_client_tokens')).toBe('approval');
  });

  it('signing out ends the session and its elevation', async () => {
    const dan = await session('dan');
    expect((await consoleCall(cp, dan, 'POST', '/admin/v1/elevations', { reason: 'drill', minutes: 5 })).status).toBe(
      201,
    );
    expect((await consoleCall(cp, dan, 'POST', '/admin/v1/operator-sign-out')).status).toBe(204);
    const after = await consoleCall(cp, dan, 'GET', '/admin/v1/operator/me');
    expect(after.status).toBe(401);
    expect(problemOf(after).code).toBe('ERR_OPERATOR_SIGN_IN_REQUIRED');
    const open = await cp.platform.storage.db
      .selectFrom('operator_elevations')
      .select('ended_at')
      .where('reason', '=', 'drill')
      .executeTakeFirstOrThrow();
    expect(open.ended_at).not.toBeNull();
  });

  it('a cookie without X-Carapace-Console is refused (ERR_CSRF)', async () => {
    const vera = await session('vera');
    const res = await consoleCall(cp, vera, 'GET', '/admin/v1/operator/me', undefined, {}, false);
    expect(res.status).toBe(403);
    expect(problemOf(res)).toEqual({ type: 'csrf', code: 'ERR_CSRF' });
    const forged = await consoleCall(cp, 'not-a-session', 'GET', '/admin/v1/operator/me');
    expect(forged.status).toBe(401);
  });

  it('an idle session, an expired session and a disabled operator are refused', async () => {
    const idle = await session('vera');
    clock.advance(16 * MINUTE);
    expect((await consoleCall(cp, idle, 'GET', '/admin/v1/operator/me')).status).toBe(401);
    const busy = await session('vera');
    // Active every 10 minutes, but a session lasts 8 hours at most.
    for (let i = 0; i < 47; i++) {
      clock.advance(10 * MINUTE);
      expect((await consoleCall(cp, busy, 'GET', '/admin/v1/operator/me')).status).toBe(200);
    }
    clock.advance(10 * MINUTE);
    expect((await consoleCall(cp, busy, 'GET', '/admin/v1/operator/me')).status).toBe(401);
    const reasons = (await cp.platform.audit.list({ type: 'admin.request.refused' })).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['session_idle', 'session_expired']));
    const nina = await addPerson(cp, 'dora', ['viewer']);
    people.dora = nina;
    const dora = await session('dora');
    await cp.platform.operators.directory.disable({ type: 'system', id: null }, 'dora');
    expect((await consoleCall(cp, dora, 'GET', '/admin/v1/operator/me')).status).toBe(401);
    expect((await freshSignIn('dora')).session).toBeNull();
  });

  it("ending the person's sessions (password change, MFA reset) ends the console session too", async () => {
    const vera = await session('vera');
    expect((await consoleCall(cp, vera, 'GET', '/admin/v1/operator/me')).status).toBe(200);
    const userId = (await cp.platform.operators.directory.find('name', 'vera'))!.userId!;
    await cp.platform.directory.endSessions({ type: 'operator', id: 'admin' }, userId, 'lost laptop');
    const after = await consoleCall(cp, vera, 'GET', '/admin/v1/operator/me');
    expect(after.status).toBe(401);
    expect((after.json as { reason: string }).reason).toBe('credentials_changed');
    expect((await consoleCall(cp, await session('vera'), 'GET', '/admin/v1/operator/me')).status).toBe(200);
  });

  it('a person who is not an operator, or signs in without a second factor, gets no session', async () => {
    const otto = await freshSignIn('otto');
    expect(otto.final.status).toBe(403);
    expect(otto.session).toBeNull();
    const nina = await freshSignIn('nina');
    expect(nina.final.status).toBe(403);
    expect((nina.final.json as { reason: string }).reason).toBe('mfa_required');
    const refused = await cp.platform.audit.list({ type: 'operators.sign_in.refused' });
    expect(refused.map((e) => e.reason)).toEqual(expect.arrayContaining(['not_an_operator', 'mfa_required']));
  });

  it('the demo operators sign in with their documented credentials, one per role', async () => {
    await seedDemoOperators({ directory: cp.platform.directory, operators: cp.platform.operators.directory });
    for (const demo of DEMO_OPERATORS) {
      const name = demo.email.split('@')[0]!;
      people[name] = { name, email: demo.email, password: demo.password, totp: demo.totp };
      const me = await consoleCall(cp, await session(name), 'GET', '/admin/v1/operator/me');
      expect(me.json).toMatchObject({ name, roles: [demo.role] });
    }
  });

  it('a callback this browser did not start is refused (no sign-in cookie)', async () => {
    const res = await request(`${cp.addresses.admin}/admin/v1/operator-sign-in/callback?code=abc&state=def`, {
      ca: cp.ca,
    });
    expect(res.status).toBe(403);
    expect((res.json as { reason: string }).reason).toBe('no_sign_in');
  });

  it('two-person rule: the requester cannot approve, a second operator can, an approval is used once', async () => {
    const pia = await session('pia');
    const sam = await session('sam');
    const path = '/admin/v1/clients/nobody/token-revocation';
    await consoleCall(cp, pia, 'POST', '/admin/v1/elevations', { reason: 'leaked key', minutes: 20 });
    const without = await consoleCall(cp, pia, 'POST', path, { reason: 'leaked key' });
    expect(problemOf(without).type).toBe('approval-required');
    const notFleetWide = await consoleCall(cp, pia, 'POST', '/admin/v1/approvals', {
      action: 'pki:revoke',
      reason: 'x y z',
    });
    expect(notFleetWide.status).toBe(400);
    const asked = await consoleCall(cp, pia, 'POST', '/admin/v1/approvals', {
      action: 'auth:revoke_client_tokens',
      reason: 'leaked key',
    });
    expect(asked.status).toBe(201);
    const id = (asked.json as { id: string }).id;
    const self = await consoleCall(cp, pia, 'POST', `/admin/v1/approvals/${id}/approve`);
    expect(self.status).toBe(403);
    // Unapproved, the request does not open the action.
    expect(
      problemOf(await consoleCall(cp, pia, 'POST', path, { reason: 'k' }, { 'x-carapace-approval': id })).type,
    ).toBe('approval-required');
    // The second person must be one who could take the action: not a viewer, not a responder, and elevated.
    const vera = await session('vera');
    const rob = await session('rob');
    await consoleCall(cp, rob, 'POST', '/admin/v1/elevations', { reason: 'rubber stamp', minutes: 5 });
    for (const stamp of [vera, rob])
      expect(problemOf(await consoleCall(cp, stamp, 'POST', `/admin/v1/approvals/${id}/approve`)).type).toBe(
        'forbidden',
      );
    expect(problemOf(await consoleCall(cp, sam, 'POST', `/admin/v1/approvals/${id}/approve`)).type).toBe(
      'elevation-required',
    );
    await consoleCall(cp, sam, 'POST', '/admin/v1/elevations', { reason: 'leaked key', minutes: 20 });
    expect((await consoleCall(cp, sam, 'POST', `/admin/v1/approvals/${id}/approve`)).status).toBe(200);
    // Only the requester uses it: the approver holding the id gains nothing.
    expect(
      problemOf(await consoleCall(cp, sam, 'POST', path, { reason: 'k' }, { 'x-carapace-approval': id })).type,
    ).toBe('approval-required');
    const used = await consoleCall(cp, pia, 'POST', path, { reason: 'leaked key' }, { 'x-carapace-approval': id });
    expect(used.status).toBe(404);
    expect((await cp.platform.audit.list({ type: 'operators.action.allowed', actorId: 'pia' }))[0]).toMatchObject({
      action: 'auth:revoke_client_tokens',
      reason: 'approved',
      details: { approvalId: id },
    });
    const again = await consoleCall(cp, pia, 'POST', path, { reason: 'leaked key' }, { 'x-carapace-approval': id });
    expect(problemOf(again).type).toBe('approval-required');
    const events = await cp.platform.audit.list({ typePrefix: 'operators.approval.' });
    expect(events.map((e) => `${e.type}:${e.actor.id}`)).toEqual(
      expect.arrayContaining([
        'operators.approval.requested:pia',
        'operators.approval.refused:pia',
        'operators.approval.granted:sam',
      ]),
    );
  });

  it('an approval expires: approving it late, or using it late, is refused', async () => {
    const sam = await session('sam');
    const ask = () =>
      asCert(cp.operatorTls, 'POST', '/admin/v1/approvals', {
        action: 'auth:revoke_client_tokens',
        reason: 'rotation',
      });
    const late = (await ask()).json as { id: string };
    const unused = (await ask()).json as { id: string };
    await consoleCall(cp, sam, 'POST', '/admin/v1/elevations', { reason: 'rotation', minutes: 20 });
    expect((await consoleCall(cp, sam, 'POST', `/admin/v1/approvals/${unused.id}/approve`)).status).toBe(200);
    clock.advance(61 * MINUTE);
    const sam2 = await session('sam');
    await consoleCall(cp, sam2, 'POST', '/admin/v1/elevations', { reason: 'rotation', minutes: 20 });
    expect((await consoleCall(cp, sam2, 'POST', `/admin/v1/approvals/${late.id}/approve`)).status).toBe(409);
    const path = '/admin/v1/clients/nobody/token-revocation';
    const res = await asCert(
      cp.operatorTls,
      'POST',
      path,
      { reason: 'rotation' },
      { 'x-carapace-approval': unused.id },
    );
    expect(problemOf(res).type).toBe('approval-required');
  });
});

describe('admin policies at start (sqlite)', () => {
  it('refuses to start without the admin guardrails, or with an admin route the schema lacks an action for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'carapace-admin-policy-'));
    try {
      cpSync('policies', dir, { recursive: true });
      rmSync(join(dir, 'admin.cedar'));
      const missing = startTestCarapace({ database: 'sqlite', overrides: { policy: { dir } } });
      await expect(missing).rejects.toThrow(/admin\.elevation-for-sensitive is missing/);
      cpSync('policies/admin.cedar', join(dir, 'admin.cedar'));
      const schema = readFileSync(join(dir, 'schema.cedarschema'), 'utf8');
      writeFileSync(join(dir, 'schema.cedarschema'), schema.replace('"webhooks:status", ', ''));
      const unknown = startTestCarapace({ database: 'sqlite', overrides: { policy: { dir } } });
      await expect(unknown).rejects.toThrow(/GET \/admin\/v1\/webhooks\/status \(webhooks:status\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
