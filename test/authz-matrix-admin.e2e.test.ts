import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_PROBES,
  ADMIN_RULES,
  adminOutcome,
  adminSummaryLine,
  type AdminCaller,
  type AdminCell,
  type AdminFixtures,
  type AdminObject,
  type AdminRole,
  DEVICE_RELEASE,
  DEVICE_RETIRE,
  expectedOf,
  runAdminMatrix,
} from '../src/authz-matrix/index.js';
import { adminExpectations, OPERATOR_ROLES } from '../src/operators/index.js';
import { FixedClock } from '../src/platform/index.js';
import { startTestCarapace, type TestCarapace } from '../src/testing/index.js';
import { httpsRequest } from '../src/vehicle-sdk/index.js';
import { addPerson, consoleCall, signIn } from './operators-support.js';

const SYSTEM = { type: 'system' as const, id: null };
/**
 * Routes whose allowed probe cannot show a success on a fresh test server, and why. The decision was still made
 * (a refusal would have been a 403 before the handler ran), but the matrix counts these cells as unreached, not
 * passed; each entry is a gap to close with a real object, never a way to hide a cell.
 */
const UNREACHED_BY_DESIGN: Record<string, { why: string; only?: 'certificate' }> = {
  'GET /admin/v1/vehicles/:vehicleId/state': { why: 'no vehicle has sent telemetry: no state to read (404)' },
  'GET /admin/v1/findings/:findingId': { why: 'detection is off in matrix servers: no finding exists (404)' },
  'POST /admin/v1/findings/:findingId/status': { why: 'no finding exists (404)' },
  'POST /admin/v1/incidents/:incidentId/findings': { why: 'no finding exists to attach (400 unknown finding)' },
  'POST /admin/v1/playbook-steps/:stepId/decision': { why: 'no playbook step awaits a decision (404)' },
  'POST /admin/v1/webhooks/deliveries/replay': { why: 'no webhook delivery exists to replay (404)' },
  'POST /admin/v1/telemetry/quarantines/:deviceId/release': { why: 'no device is in telemetry quarantine (409)' },
  'POST /admin/v1/federation/links': { why: 'no identity provider is configured for the issuer (400)' },
  'POST /admin/v1/audit/prune': { why: 'no retention period is configured: nothing to prune (409)' },
  'GET /admin/v1/authz-matrix/report': { why: 'no matrix report was written on a fresh server (404)' },
  'POST /admin/v1/authz-matrix/runs': { why: 'no matrix target is configured: a probe never starts a run (400)' },
  'POST /admin/v1/elevations': { why: 'a certificate has no session to elevate (409)', only: 'certificate' },
};
const justified = (c: AdminCell, kind: AdminCaller['kind']) => {
  const j = UNREACHED_BY_DESIGN[c.route];
  return j !== undefined && (j.only === undefined || j.only === kind);
};

describe('authorization matrix on the admin plane (sqlite)', () => {
  const clock = new FixedClock();
  let cp: TestCarapace;
  const callers: AdminCaller[] = [];
  let sa: AdminCaller;
  let serial = 0;

  const certCaller = async (role: AdminRole, name = `matrix-${role}-cert`): Promise<AdminCaller> => {
    const issued = await cp.platform.pki.issueOperatorCertificate({ name, csrPem: null, actor: SYSTEM });
    await cp.platform.operators.directory.bindCertificate(SYSTEM, { name, serial: issued.serial, role });
    const tls = { cert: issued.certificatePem, key: issued.privateKeyPem as string };
    return {
      name: `${role} certificate`,
      kind: 'certificate',
      roles: [role],
      elevated: true,
      call: async (method, path, body) => {
        const res = await httpsRequest(`${cp.addresses.admin}${path}`, {
          method,
          ca: cp.ca,
          ...tls,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        return { status: res.status, json: res.json };
      },
    };
  };
  const personCaller = async (role: AdminRole, elevated: boolean): Promise<AdminCaller> => {
    const person = await addPerson(cp, `matrix-${role.replace('_', '-')}-${elevated ? 'e' : 'n'}`, [role]);
    clock.advance(31_000); // a new TOTP step for each sign-in
    const signed = await signIn(cp, person, clock);
    if (!signed.session) throw new Error(`no session for ${person.name}: ${signed.final.text.slice(0, 200)}`);
    const session = signed.session;
    if (elevated) {
      const res = await consoleCall(cp, session, 'POST', '/admin/v1/elevations', { reason: 'matrix', minutes: 30 });
      if (res.status !== 201) throw new Error(`elevation refused: ${res.status} ${res.text.slice(0, 200)}`);
    }
    return {
      name: `${role} person${elevated ? ', elevated' : ''}`,
      kind: 'person',
      roles: [role],
      elevated,
      call: async (method, path, body) => {
        const res = await consoleCall(cp, session, method, path, body);
        return { status: res.status, json: res.json };
      },
    };
  };

  const ok = async (caller: AdminCaller, method: string, path: string, body?: unknown) => {
    const res = await caller.call(method, path, body);
    if (res.status >= 300) throw new Error(`fixture ${method} ${path}: ${res.status} ${JSON.stringify(res.json)}`);
    return res.json as Record<string, unknown>;
  };
  // Promises, not ids: cells run concurrently, and two asking for a shared object at once must get the same one.
  const shared = new Map<AdminObject, Promise<string>>();
  let requester: AdminCaller;
  // Devices are enrolled before the clock moves (TLS judges a certificate's notBefore by the real time): one per
  // allowed state change that names a device, and two to share.
  const devices: string[] = [];
  const devicePool = (roles: readonly AdminRole[]) =>
    2 +
    ADMIN_PROBES.filter(
      (p) => p.method === 'POST' && /\{(device|quarantinedDevice)\}/.test(`${p.send}${JSON.stringify(p.body)}`),
    )
      .flatMap((p) => roles.flatMap((r) => [true, false, true].map((e) => expectedOf(p, { roles: [r], elevated: e }))))
      .filter((o) => o === 'allowed').length;
  const make = async (kind: AdminObject): Promise<string> => {
    switch (kind) {
      case 'device': {
        const id = devices.pop();
        if (!id) throw new Error('the device pool is empty: count the device probes again');
        return id;
      }
      case 'quarantinedDevice': {
        const id = await make('device');
        await ok(sa, 'POST', `/admin/v1/devices/${id}/status`, { status: 'quarantined', reason: 'matrix' });
        return id;
      }
      case 'user':
        return (
          await cp.platform.directory.createUser(
            { type: 'system', id: 'seed' },
            {
              email: `matrix-${++serial}@users.example`,
              displayName: 'matrix',
              password: `matrix password ${serial}`,
              totpSecret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
            },
          )
        ).id;
      case 'incident':
        return (
          (await ok(sa, 'POST', '/admin/v1/incidents', { title: 'matrix', severity: 'low' })).incident as {
            id: string;
          }
        ).id;
      case 'hold':
        return (await ok(sa, 'POST', '/admin/v1/audit/holds', { fromSeq: 1, toSeq: 1, reason: 'matrix' })).id as string;
      case 'approval':
        return (
          await ok(requester, 'POST', '/admin/v1/approvals', { action: 'auth:revoke_client_tokens', reason: 'matrix' })
        ).id as string;
      case 'auditEvent':
        return ((await ok(sa, 'GET', '/admin/v1/audit-events')).events as Array<{ id: string }>)[0]!.id;
      case 'playbook':
        return ((await ok(sa, 'GET', '/admin/v1/playbooks')).playbooks as Array<{ id: string }>)[0]!.id;
      case 'vehicle':
      case 'finding':
      case 'step':
        return randomUUID();
      case 'checkpoint':
      case 'laterCheckpoint':
        throw new Error(`${kind} is made once, before the run`);
      case 'delivery':
        return 'msg_matrixprobe0001';
    }
  };
  const fixtures: AdminFixtures = {
    async object(kind, fresh) {
      if (fresh) return make(kind);
      if (!shared.has(kind)) shared.set(kind, make(kind));
      return shared.get(kind) as Promise<string>;
    },
  };

  beforeAll(async () => {
    cp = await startTestCarapace({ database: 'sqlite', clock, overrides: { detect: { enabled: false } } });
    // Certificates first: TLS judges a certificate's notBefore by the real time, before the test clock moves.
    for (const role of OPERATOR_ROLES) callers.push(await certCaller(role));
    for (let i = devicePool(OPERATOR_ROLES); i > 0; i--)
      devices.push((await cp.enrolledDevice(`TCU-MATRIX-${++serial}`)).credentials!.issued.deviceId);
    sa = callers.find((c) => c.roles.includes('security_admin')) as AdminCaller;
    requester = await certCaller('pki_officer', 'matrix-approval-requester');
    for (const role of OPERATOR_ROLES) for (const e of [false, true]) callers.push(await personCaller(role, e));
    // The audit proofs need an event inside a checkpoint and an older checkpoint than a later one: made in order here,
    // not while the callers run side by side and keep adding events.
    shared.set('auditEvent', Promise.resolve(await make('auditEvent')));
    const seal = async () =>
      String(((await ok(sa, 'POST', '/admin/v1/audit/checkpoints')).checkpoint as { treeSize: number }).treeSize);
    shared.set('checkpoint', Promise.resolve(await seal()));
    shared.set('incident', Promise.resolve(await make('incident')));
    shared.set('laterCheckpoint', Promise.resolve(await seal()));
  }, 120_000);
  afterAll(async () => cp?.stop());

  it('the hand-written role table agrees with what the policies decide, action by action', () => {
    const fromPolicy = adminExpectations();
    const disagreements: string[] = [];
    for (const role of OPERATOR_ROLES) {
      const e = fromPolicy[role];
      const policyOutcome = (a: string) =>
        e.allowed.includes(a)
          ? 'nothing'
          : e.withElevation.includes(a)
            ? 'elevation'
            : e.withApproval.includes(a)
              ? 'approval'
              : 'never';
      for (const action of new Set([
        ...Object.keys(ADMIN_RULES),
        ...e.allowed,
        ...e.withElevation,
        ...e.withApproval,
        ...e.denied,
      ])) {
        const r = ADMIN_RULES[action];
        const mine = r && r.roles.includes(role) ? r.needs : 'never';
        if (mine !== policyOutcome(action))
          disagreements.push(`${role} ${action}: table ${mine}, policy ${policyOutcome(action)}`);
      }
    }
    const releasers = OPERATOR_ROLES.filter((r) => adminOutcome(DEVICE_RELEASE, [r], false) === 'elevation-required');
    const retirers = OPERATOR_ROLES.filter((r) => adminOutcome(DEVICE_RETIRE, [r], false) === 'elevation-required');
    expect({
      disagreements,
      release: fromPolicy.releaseNeedsElevation,
      retire: fromPolicy.retireNeedsElevation,
    }).toEqual({ disagreements: [], release: releasers, retire: retirers });
  });

  it('has a probe for every operator route of the admin listener, with the same action', () => {
    const live = cp.listeners.admin.routes.filter((r) => r.method !== 'HEAD' && r.facts.auth.kind === 'operator');
    const probes = new Map(ADMIN_PROBES.map((p) => [`${p.method} ${p.path}`, p.action]));
    const missing = live.filter((r) => probes.get(`${r.method} ${r.url}`) !== r.entry.action);
    expect(missing.map((r) => `${r.method} ${r.url} ${r.entry.action}`)).toEqual([]);
    const liveKeys = new Set(live.map((r) => `${r.method} ${r.url}`));
    expect([...probes.keys()].filter((k) => !liveKeys.has(k))).toEqual([]);
  });

  it('runs every admin route x every role (certificate, person, person elevated) with no unexpected cell', async () => {
    const report = await runAdminMatrix(callers, fixtures);
    const s = report.summary;
    process.stdout.write(`${adminSummaryLine(report)}\n`);
    const show = (c: (typeof report.cells)[number]) =>
      `${c.caller} ${c.route}: expected ${c.expected}, got ${c.status} ${c.observed} ${c.detail ?? ''}`;
    expect(report.cells.filter((c) => c.unexpected).map(show)).toEqual([]);
    const kindOf = new Map(callers.map((c) => [c.name, c.kind]));
    expect(report.cells.filter((c) => c.unreached && !justified(c, kindOf.get(c.caller)!)).map(show)).toEqual([]);
    // The two sentences issue 16 is judged by, as cells.
    const cell = (caller: string, route: string) => report.cells.find((c) => c.caller === caller && c.route === route);
    expect(cell('viewer person', 'POST /admin/v1/revocations')?.observed).toBe('forbidden');
    expect(cell('viewer certificate', 'POST /admin/v1/revocations')?.observed).toBe('forbidden');
    expect(cell('responder person', 'POST /admin/v1/devices/:deviceId/status (release)')?.observed).toBe(
      'elevation-required',
    );
    expect(cell('responder person, elevated', 'POST /admin/v1/devices/:deviceId/status (release)')?.observed).toBe(
      'allowed',
    );
    expect(s.allowed).toBeGreaterThan(200);
    expect(s.refused).toBeGreaterThan(100);
  }, 120_000);
});

// The matrix must fail when a rule breaks: a plausible mistake in the role table of the policies (the viewer added to
// the PKI officers' permit) shows as unexpected cells. One role and the PKI routes only: the rest is above.
describe('the admin matrix catches a policy that lets a viewer revoke (sqlite)', () => {
  let cp: TestCarapace;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'carapace-admin-policies-'));
    cpSync('policies', dir, { recursive: true });
    const admin = readFileSync(join(dir, 'admin.cedar'), 'utf8');
    const broken = admin.replace(
      'containsAny(["pki_officer", "security_admin"])',
      'containsAny(["viewer", "pki_officer", "security_admin"])',
    );
    expect(broken).not.toBe(admin);
    writeFileSync(join(dir, 'admin.cedar'), broken);
    cp = await startTestCarapace({ database: 'sqlite', overrides: { detect: { enabled: false }, policy: { dir } } });
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the viewer certificate revoking and replacing as unexpected', async () => {
    const name = 'mutant-viewer-cert';
    const issued = await cp.platform.pki.issueOperatorCertificate({ name, csrPem: null, actor: SYSTEM });
    await cp.platform.operators.directory.bindCertificate(SYSTEM, { name, serial: issued.serial, role: 'viewer' });
    const viewer: AdminCaller = {
      name: 'viewer certificate',
      kind: 'certificate',
      roles: ['viewer'],
      elevated: true,
      call: async (method, path, body) => {
        const res = await httpsRequest(`${cp.addresses.admin}${path}`, {
          method,
          ca: cp.ca,
          cert: issued.certificatePem,
          key: issued.privateKeyPem as string,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        return { status: res.status, json: res.json };
      },
    };
    let n = 0;
    const fixtures: AdminFixtures = {
      object: async () => (await cp.enrolledDevice(`TCU-MUTANT-${++n}`)).credentials!.issued.deviceId,
    };
    const probes = ADMIN_PROBES.filter((p) => p.action === 'pki:revoke' || p.action === 'pki:replace_device');
    const report = await runAdminMatrix([viewer], fixtures, probes);
    expect(report.cells.map((c) => `${c.route} ${c.expected} ${c.observed} ${c.unexpected}`)).toEqual([
      'POST /admin/v1/revocations forbidden allowed true',
      'POST /admin/v1/devices/:deviceId/replacement forbidden allowed true',
    ]);
  }, 60_000);
});
