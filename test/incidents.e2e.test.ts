import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient, ServiceSession } from '../src/client/index.js';
import { currentTotp, findUserByEmail } from '../src/identity/index.js';
import { findDevice } from '../src/pki/index.js';
import { relationshipsInForce } from '../src/relationships/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import {
  CommandChannel,
  EnvelopeVerifier,
  type GatewayClient,
  httpsRequest,
  MemoryAnswerStore,
} from '../src/vehicle-sdk/index.js';
import {
  admin,
  finding,
  type OperatorTls,
  report,
  resultOf,
  type RunJson,
  secondOperator,
} from './incidents-support.js';
import { signerFor } from './telemetry-support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A GET by the device over a fresh mTLS connection to the gateway. */
const deviceGet = (cp: TestCarapace, device: GatewayClient) => {
  const { key, issued } = device.credentials!;
  return httpsRequest(`${cp.addresses.gateway}/v1/devices/${issued.deviceId}`, {
    ca: cp.ca,
    cert: issued.certificate,
    key: key.privateKeyPem,
    agent: new https.Agent({ keepAlive: false }),
  });
};

async function openFor(cp: TestCarapace, assets: Parameters<typeof finding>[0]['assets'], title = 'incident') {
  const f = finding({ title, assets, severity: 'critical' });
  const { incidentId } = await report(cp, f);
  expect(incidentId).toBeTruthy();
  return { incidentId: incidentId!, finding: f };
}

const run = async (cp: TestCarapace, incidentId: string, playbook: string, as?: OperatorTls) => {
  const res = await admin(cp, 'POST', `/admin/v1/incidents/${incidentId}/playbooks/${playbook}/runs`, undefined, as);
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return res.json as unknown as RunJson;
};

/** Row counts of every table a playbook can change, and the audit trail's length: a dry run must leave them. */
async function snapshot(cp: TestCarapace) {
  const db = cp.platform.storage.db;
  const count = async (t: 'devices' | 'certificates' | 'token_denylist' | 'relationships' | 'command_keys') =>
    Number((await db.selectFrom(t).select(db.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const own = async (t: 'incident_runs' | 'incident_steps' | 'incident_notifications' | 'incident_timeline') =>
    Number((await db.selectFrom(t).select(db.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  return {
    devices: await db.selectFrom('devices').select(['id', 'status']).orderBy('id').execute(),
    certificates: await db.selectFrom('certificates').select(['serial', 'status']).orderBy('serial').execute(),
    denylist: await count('token_denylist'),
    relationships: await db.selectFrom('relationships').select(['id', 'ended_at']).orderBy('id').execute(),
    keys: await db.selectFrom('command_keys').select(['kid', 'status']).orderBy('kid').execute(),
    runs: await own('incident_runs'),
    steps: await own('incident_steps'),
    notifications: await own('incident_notifications'),
    timeline: await own('incident_timeline'),
  };
}

/**
 * Audit events written after `seq`, leaving out the periodic aggregates other modules write on their own clock
 * (telemetry volume, failed handshakes): what a request changed in the trail.
 */
async function auditAfter(cp: TestCarapace, seq: number) {
  const events = await cp.platform.audit.list({ afterSeq: seq, limit: 1000 });
  return events.filter((e) => !e.type.startsWith('telemetry.volume.') && !e.type.startsWith('gateway.tls.'));
}

describe.each(testEngines())('incidents and playbooks end to end (%s)', (database) => {
  let cp: TestCarapace;
  let second: OperatorTls;

  beforeAll(async () => {
    // Findings reach incidents through the port here (report()); the engine's own findings would join open incidents.
    cp = await startTestCarapace({ database, overrides: { seedDemo: true, detect: { enabled: false } } });
    second = await secondOperator(cp, 'second-operator');
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
  });

  it('a high finding opens an incident; a repeat attaches to it; a low one only records', async () => {
    const f = finding({ severity: 'high', assets: { users: ['u-1'] } });
    const first = await report(cp, f);
    const again = await report(cp, { ...f, count: 2, assets: { ...f.assets, users: ['u-1', 'u-2'] } }, false);
    expect(again.incidentId).toBe(first.incidentId);
    const other = finding({ groupKey: f.groupKey, severity: 'critical' });
    expect((await report(cp, other)).incidentId).toBe(first.incidentId);
    const low = await report(cp, finding({ severity: 'medium' }));
    expect(low.incidentId).toBeNull();

    const res = await admin(cp, 'GET', `/admin/v1/incidents/${first.incidentId}`);
    expect(res.status).toBe(200);
    const body = res.json as {
      incident: { state: string; openedBy: string; assets: { users: string[] } };
      findings: unknown[];
      timeline: { kind: string }[];
    };
    expect(body.incident).toMatchObject({ state: 'open', openedBy: 'system:incidents' });
    expect(body.incident.assets.users).toEqual(['u-1', 'u-2']);
    expect(body.findings).toHaveLength(2);
    expect(body.timeline.map((t) => t.kind)).toEqual(['opened', 'finding', 'finding']);
    const events = await cp.platform.audit.list({ objectId: first.incidentId!, typePrefix: 'incidents.' });
    expect(events.map((e) => e.type).sort()).toEqual([
      'incidents.finding_attached',
      'incidents.finding_attached',
      'incidents.opened',
    ]);
  });

  it('enforces the lifecycle: a bad transition is a 409 problem and audited; false positive and reopen', async () => {
    const { incidentId } = await openFor(cp, {});
    const bad = await admin(cp, 'POST', `/admin/v1/incidents/${incidentId}/transitions`, {
      to: 'recovered',
      reason: 'skipping ahead',
    });
    expect(bad.status).toBe(409);
    expect(bad.json).toMatchObject({
      type: 'urn:carapace:problem:incident-transition-refused',
      code: 'ERR_INCIDENT_TRANSITION_REFUSED',
    });
    const closeReal = await admin(cp, 'POST', `/admin/v1/incidents/${incidentId}/transitions`, {
      to: 'closed',
      reason: 'not a false positive',
    });
    expect(closeReal.status).toBe(409);
    const refused = await cp.platform.audit.list({ type: 'incidents.transition_refused', objectId: incidentId });
    expect(refused).toHaveLength(2);
    for (const to of ['triaged', 'contained', 'recovered', 'closed']) {
      const ok = await admin(cp, 'POST', `/admin/v1/incidents/${incidentId}/transitions`, { to, reason: `to ${to}` });
      expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    }
    const reopened = await admin(cp, 'POST', `/admin/v1/incidents/${incidentId}/transitions`, {
      to: 'open',
      reason: 'it came back',
    });
    expect(reopened.json).toMatchObject({ incident: { state: 'open', resolution: null, closedAt: null } });
    const fp = await admin(cp, 'POST', `/admin/v1/incidents/${incidentId}/transitions`, {
      to: 'closed',
      reason: 'benign after all',
      resolution: 'false_positive',
    });
    expect(fp.json).toMatchObject({ incident: { state: 'closed', resolution: 'false_positive' } });
    const owner = await admin(cp, 'POST', `/admin/v1/incidents/${incidentId}/owner`, { owner: 'second-operator' });
    expect(owner.json).toMatchObject({ incident: { owner: 'second-operator' } });
    const note = await admin(cp, 'POST', `/admin/v1/incidents/${incidentId}/notes`, { text: 'looked at it' });
    const kinds = (note.json as { timeline: { kind: string; actor: string }[] }).timeline.map((t) => t.kind);
    expect(kinds.filter((k) => k === 'state')).toHaveLength(6);
    expect(kinds.slice(-2)).toEqual(['owner', 'note']);
    const unknown = await admin(cp, 'POST', `/admin/v1/incidents/${incidentId}/transitions`, {
      to: 'open',
      reason: 'x',
      extra: true,
    });
    expect(unknown.status).toBe(400);
  });

  it('an operator opens an incident from a reported finding and attaches another', async () => {
    const a = finding({ severity: 'low', assets: { vehicles: ['v-a'] } });
    const b = finding({ severity: 'low', assets: { vehicles: ['v-b'] } });
    await report(cp, a);
    await report(cp, b);
    const opened = await admin(cp, 'POST', '/admin/v1/incidents', {
      title: 'manual',
      severity: 'medium',
      findingIds: [a.id],
      assets: { users: ['u-x'] },
    });
    expect(opened.status).toBe(201);
    const id = (opened.json as { incident: { id: string } }).incident.id;
    expect(opened.json).toMatchObject({ incident: { openedBy: 'operator:admin', assets: { vehicles: ['v-a'] } } });
    const attached = await admin(cp, 'POST', `/admin/v1/incidents/${id}/findings`, { findingId: b.id });
    expect(attached.json).toMatchObject({ incident: { assets: { vehicles: ['v-a', 'v-b'], users: ['u-x'] } } });
    const twice = await admin(cp, 'POST', `/admin/v1/incidents/${id}/findings`, { findingId: b.id });
    expect(twice.status).toBe(409);
    const none = await admin(cp, 'POST', '/admin/v1/incidents', {
      title: 'bad',
      severity: 'low',
      findingIds: ['no-such-finding'],
    });
    expect(none.status).toBe(400);
  });

  it('device credential compromise: dry run changes nothing; the run contains for real and re-verifies', async () => {
    const device = await cp.enrolledDevice('TCU-INC-1');
    const { issued } = device.credentials!;
    const signer = signerFor(device);
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(await signer.sign({ kind: 'speed', kmh: 10 + i }));
    expect((await device.sendTelemetry(sent)).verdicts.every((v) => v.verdict === 'accepted')).toBe(true);
    expect((await deviceGet(cp, device)).status).toBe(200);
    const { incidentId } = await openFor(cp, { devices: [issued.deviceId] }, 'clone of TCU-INC-1');

    const before = await snapshot(cp);
    const seq = (await cp.platform.audit.list({ limit: 1 }))[0]?.seq ?? 0;
    const dry = await admin(
      cp,
      'POST',
      `/admin/v1/incidents/${incidentId}/playbooks/device-credential-compromise/dry-run`,
    );
    expect(dry.status).toBe(200);
    const steps = (
      dry.json as { steps: { stepId: string; targets: string[]; approval: number; vehicleCount: number }[] }
    ).steps;
    expect(steps.map((s) => s.stepId)).toEqual([
      'suspend',
      'revoke',
      'quarantine-telemetry',
      'reverify',
      'scope',
      'retire',
    ]);
    expect(steps[0]).toMatchObject({ targets: [issued.deviceId], vehicleCount: 1, approval: 0 });
    expect(steps[1]!.targets).toContain(issued.serial);
    expect(steps[5]).toMatchObject({ approval: 1 });
    expect(await snapshot(cp)).toEqual(before);
    expect((await auditAfter(cp, seq)).map((e) => e.type)).toEqual([]);

    const r = await run(cp, incidentId, 'device-credential-compromise');
    expect(r.state).toBe('awaiting_approval');
    expect(r.steps.slice(0, 5).map((s) => s.state)).toEqual(['done', 'done', 'done', 'done', 'done']);
    for (const s of r.steps.slice(0, 5)) {
      expect(s.decidedAt).not.toBeNull();
      expect(s.startedAt).not.toBeNull();
      expect(s.effectiveAt).not.toBeNull();
    }
    expect(resultOf(r, 'revoke')).toMatchObject({ revoked: expect.arrayContaining([issued.serial]) });
    expect(resultOf(r, 'reverify')).toMatchObject({ messages: 3, verified: 3, failed: 0, acceptedButFailed: 0 });
    // The revoked certificate is refused by the gateway on a real TLS connection.
    expect((await deviceGet(cp, device)).json).toMatchObject({ code: 'ERR_CLIENT_CERT_REVOKED' });
    const quarantines = await cp.platform.telemetry.quarantine.list({ deviceId: issued.deviceId });
    expect(quarantines).toHaveLength(1);
    expect(quarantines[0]!.reason).toContain(incidentId);
    const detail = await admin(cp, 'GET', `/admin/v1/incidents/${incidentId}`);
    expect(detail.json).toMatchObject({ incident: { state: 'contained' } });

    const retire = r.steps.find((s) => s.stepId === 'retire')!;
    expect(retire).toMatchObject({ state: 'awaiting_approval', approval: 'one-operator' });
    const approved = await admin(cp, 'POST', `/admin/v1/playbook-steps/${retire.id}/decision`, {
      decision: 'approve',
      reason: 'unit comes back to the workshop',
    });
    expect(approved.status, JSON.stringify(approved.json)).toBe(200);
    expect(approved.json).toMatchObject({ state: 'done' });
    expect((await findDevice(cp.platform.storage.db, issued.deviceId))?.status).toBe('decommissioned');
    const notes = await admin(cp, 'GET', `/admin/v1/incident-notifications?incidentId=${incidentId}`);
    expect(notes.json).toMatchObject({
      notifications: [{ template: 'device-re-provision', state: 'pending', recipientKind: 'operator' }],
    });
    const types = (await cp.platform.audit.list({ objectId: incidentId, typePrefix: 'incidents.playbook.' })).map(
      (e) => e.type,
    );
    expect(types.filter((t) => t === 'incidents.playbook.step_done')).toHaveLength(6);
  });

  it('account takeover: the stolen token is refused at once; only a second operator resets MFA', async () => {
    const alice = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await alice.login({
      email: 'alice@example.com',
      password: 'demo-alice-password',
      totp: () => currentTotp('JBSWY3DPEHPK3PXPALICE234', new Date()),
      scopes: ['openid', 'vehicle:read_status'],
    });
    expect((await alice.api('GET', '/v1/vehicles')).status).toBe(200);
    const user = (await findUserByEmail(cp.platform.storage.db, 'alice@example.com'))!;
    const { incidentId } = await openFor(cp, { users: [user.id] }, 'alice signed in from a new network');
    const r = await run(cp, incidentId, 'account-takeover');
    // Contained and scoped at once; the second factor is only reset once a second operator approves.
    expect(r.state).toBe('awaiting_approval');
    expect((await alice.api('GET', '/v1/vehicles')).status).toBe(401);
    const totp = async () =>
      (
        await cp.platform.storage.db
          .selectFrom('users')
          .select(['totp_sealed'])
          .where('id', '=', user.id)
          .executeTakeFirstOrThrow()
      ).totp_sealed;
    expect(await totp()).not.toBeNull();
    const reset = r.steps.find((s) => s.stepId === 'reset-mfa')!;
    expect(reset).toMatchObject({ state: 'awaiting_approval', approval: 'two-person' });
    const decide = (as?: OperatorTls) =>
      admin(cp, 'POST', `/admin/v1/playbook-steps/${reset.id}/decision`, { decision: 'approve', reason: 'ok' }, as);
    expect((await decide()).status).toBe(403);
    expect(await totp()).not.toBeNull();
    expect((await decide(second)).status).toBe(200);
    expect(await totp()).toBeNull();
    const [mfa] = await cp.platform.audit.list({ type: 'identity.user.mfa_reset', objectId: user.id });
    expect(mfa).toMatchObject({ actor: { type: 'operator', id: 'second-operator' } });
    const notes = await admin(cp, 'GET', `/admin/v1/incident-notifications?incidentId=${incidentId}`);
    expect(notes.json).toMatchObject({
      notifications: [{ recipientKind: 'user', recipientId: user.id, template: 'account-takeover', state: 'pending' }],
    });
  });

  it('partner compromise: the suspended client can neither use nor get a token; grants end; owners told', async () => {
    const privateJwk = JSON.parse(
      readFileSync(join(cp.config.dataDir, 'demo', 'insights-readonly.private.jwk.json'), 'utf8'),
    ) as JWK;
    const session = () =>
      ServiceSession.create({
        baseUrl: cp.config.publicBaseUrl,
        ca: cp.ca,
        clientId: 'insights-readonly',
        privateJwk,
        scope: 'vehicle:read_status',
      });
    const partner = await session();
    expect((await partner.api('GET', '/v1/vehicles')).status).toBe(200);
    const app = { id: 'insights-readonly' }; // a partner grant names the application by client id
    const at = new Date().toISOString();
    const grants = await relationshipsInForce(cp.platform.storage.db, at, {
      kind: 'partner_grant',
      applicationId: app.id,
    });
    expect(grants.length).toBeGreaterThan(0);
    const { incidentId } = await openFor(cp, { clients: ['insights-readonly'] }, 'partner scraping locations');
    const r = await run(cp, incidentId, 'partner-compromise');
    expect(r.state, JSON.stringify(r.steps)).toBe('done');
    expect((await partner.api('GET', '/v1/vehicles')).status).toBe(401);
    await expect(session()).rejects.toThrow();
    expect(
      await relationshipsInForce(cp.platform.storage.db, new Date().toISOString(), {
        kind: 'partner_grant',
        applicationId: app.id,
      }),
    ).toEqual([]);
    const owners = await relationshipsInForce(cp.platform.storage.db, at, {
      kind: 'ownership',
      vehicleIds: grants.map((g) => g.vehicle_id!),
    });
    const notes = await admin(cp, 'GET', `/admin/v1/incident-notifications?incidentId=${incidentId}`);
    expect(
      (notes.json as { notifications: { recipientId: string }[] }).notifications.map((n) => n.recipientId),
    ).toEqual(owners.map((o) => o.user_id));
    expect(r.steps.find((s) => s.stepId === 'suspend')).toMatchObject({ targets: ['insights-readonly'] });
  });

  it('acting on a first-party app (named by every user finding) needs a second operator', async () => {
    // A cross-tenant or stuffing finding names the app the attacker signed in with: the owner app, shared by all.
    const { incidentId } = await openFor(cp, { clients: ['carapace-owner-app'] }, 'probing through the owner app');
    const dry = await admin(cp, 'POST', `/admin/v1/incidents/${incidentId}/playbooks/partner-compromise/dry-run`);
    const steps = (dry.json as { steps: { stepId: string; approval: number; vehicleCount: number }[] }).steps;
    const approvals = Object.fromEntries(steps.map((s) => [s.stepId, s.approval]));
    expect(approvals).toMatchObject({ suspend: 2, 'revoke-tokens': 2, 'end-grants': 2 });
    expect(steps.find((s) => s.stepId === 'suspend')?.vehicleCount).toBe(0);
    const r = await run(cp, incidentId, 'partner-compromise');
    expect(r.steps.find((s) => s.stepId === 'suspend')).toMatchObject({ state: 'awaiting_approval' });
    const [row] = await cp.platform.storage.db
      .selectFrom('token_denylist')
      .selectAll()
      .where('kind', '=', 'suspended_client')
      .where('value', '=', 'carapace-owner-app')
      .execute();
    expect(row).toBeUndefined();
  });

  it('a compromised workload is a service identity: suspended, and counted as such', async () => {
    await cp.platform.directory.registerWorkload(
      { type: 'system', id: 'seed' },
      { clientId: 'svc-export', name: 'export job', scopes: ['vehicle:read_status'], jwks: { keys: [] } },
    );
    const { incidentId } = await openFor(cp, { clients: ['svc-export'] }, 'workload key leaked');
    const dry = await admin(cp, 'POST', `/admin/v1/incidents/${incidentId}/playbooks/partner-compromise/dry-run`);
    expect((dry.json as { steps: { stepId: string; targetKind: string }[] }).steps[0]).toMatchObject({
      stepId: 'suspend',
      targetKind: 'service',
    });
    const r = await run(cp, incidentId, 'partner-compromise');
    expect(r.state).toBe('done');
    expect(await cp.platform.auth.denylist.isSuspended('svc-export')).toBe(true);
  });

  it('command key compromise: rotation after approval; the new key set reaches a connected vehicle', async () => {
    const device = await cp.enrolledDevice('TCU-INC-KEYS');
    const { issued } = device.credentials!;
    const verifier = new EnvelopeVerifier({
      keys: issued.commandVerificationKeys.keys,
      vehicleId: issued.vehicleId,
      deviceId: issued.deviceId,
      trustAnchor: cp.ca,
      counters: { load: () => ({ highest: 0, seen: [] }), save: () => undefined },
    });
    const channel = new CommandChannel({
      gateway: device,
      verifier,
      execute: () => ({ result: 'executed', code: null }),
      answered: new MemoryAnswerStore(),
      reconnect: false,
    });
    await channel.connect();
    const oldKids = verifier.kids();
    const { incidentId } = await openFor(cp, {}, 'command key exposed');
    const r = await run(cp, incidentId, 'command-key-compromise');
    expect(r.state).toBe('awaiting_approval');
    const rotate = r.steps.find((s) => s.stepId === 'rotate')!;
    const oldCurrent = rotate.targets[0]!;
    const done = await admin(cp, 'POST', `/admin/v1/playbook-steps/${rotate.id}/decision`, {
      decision: 'approve',
      reason: 'rotate now',
    });
    expect(done.json, JSON.stringify(done.json)).toMatchObject({ state: 'done' });
    const finished = done.json as unknown as RunJson;
    expect(resultOf(finished, 'rotate')).toMatchObject({ rotated: true, retired: oldCurrent });
    const published = (await cp.platform.commands.keys.published()).map((k) => k.kid).sort();
    expect(published).not.toContain(oldCurrent);
    let kids = verifier.kids();
    for (let i = 0; i < 100 && kids.includes(oldCurrent); i++) {
      await sleep(50);
      kids = verifier.kids();
    }
    expect(oldKids).toContain(oldCurrent);
    expect(kids).not.toContain(oldCurrent);
    expect(kids.sort()).toEqual(published);
    const holds = await cp.platform.evidence.holds.list();
    expect(holds.some((h) => h.reason.includes(incidentId))).toBe(true);
    channel.close();
  });

  for (const playbook of ['telemetry-forgery', 'command-replay-or-injection']) {
    it(`${playbook}: scope, quarantine, legal hold on the audit range and the findings' proofs`, async () => {
      const device = await cp.enrolledDevice(`TCU-INC-${playbook.length}`);
      const { issued } = device.credentials!;
      const signer = signerFor(device);
      await device.sendTelemetry([await signer.sign({ kind: 'speed', kmh: 5 })]);
      const evidence = (await cp.platform.audit.list({ objectId: issued.deviceId, limit: 5 })).map((e) => e.id);
      expect(evidence.length).toBeGreaterThan(0);
      const f = finding({ severity: 'critical', assets: { devices: [issued.deviceId] }, evidence });
      const { incidentId } = await report(cp, f);
      const r = await run(cp, incidentId!, playbook);
      expect(r.state, JSON.stringify(r.steps)).toBe('done');
      expect((await findDevice(cp.platform.storage.db, issued.deviceId))?.status).toBe('quarantined');
      expect((await deviceGet(cp, device)).json).toMatchObject({ code: 'ERR_DEVICE_NOT_ACTIVE' });
      const proofs = resultOf(r, 'proofs') as { proved: number; unsealed: string[] };
      expect(proofs.proved).toBe(evidence.length);
      const hold = resultOf(r, 'hold') as { holdId: string };
      expect((await cp.platform.evidence.holds.list()).map((h) => h.id)).toContain(hold.holdId);
      const detail = await admin(cp, 'GET', `/admin/v1/incidents/${incidentId}`);
      const incident = (
        detail.json as { incident: { scope: { vehicles: { vehicleId: string; evidence: string[] }[] } } }
      ).incident;
      expect(incident.scope.vehicles.map((v) => v.vehicleId)).toContain(issued.vehicleId);
      expect(incident.scope.vehicles.find((v) => v.vehicleId === issued.vehicleId)!.evidence.length).toBeGreaterThan(0);
    });
  }

  it('scopes on request: affected vehicles with evidence event ids, timed', async () => {
    const device = await cp.enrolledDevice('TCU-INC-SCOPE');
    const { issued } = device.credentials!;
    const { incidentId } = await openFor(cp, { serials: [issued.serial] });
    const res = await admin(cp, 'POST', `/admin/v1/incidents/${incidentId}/scope`, {});
    expect(res.status).toBe(200);
    const incident = (
      res.json as {
        incident: { scopeDoneAt: string | null; scope: { vehicles: { vehicleId: string; evidence: string[] }[] } };
      }
    ).incident;
    expect(incident.scopeDoneAt).not.toBeNull();
    const v = incident.scope.vehicles.find((x) => x.vehicleId === issued.vehicleId);
    expect(v?.evidence.length).toBeGreaterThan(0);
    const [e] = await cp.platform.audit.list({ type: 'incidents.scoped', objectId: incidentId });
    expect(e).toBeTruthy();
  });

  it('the two-person rule: the requester cannot approve a large step; a second operator can', async () => {
    // Above the threshold (here: any of the seeded fleet's enrolled vehicles and more), the rotation needs two people.
    const threshold = cp.config.incidents.approvalVehicleThreshold;
    for (let i = 0; i <= threshold; i++) await cp.enrolledDevice(`TCU-INC-FLEET-${i}`);
    const { incidentId } = await openFor(cp, {}, 'key exposure at fleet scale');
    const r = await run(cp, incidentId, 'command-key-compromise');
    const rotate = r.steps.find((s) => s.stepId === 'rotate')!;
    expect(rotate.vehicleCount).toBeGreaterThan(threshold);
    expect(rotate).toMatchObject({ state: 'awaiting_approval', approval: 'two-person' });
    const before = (await cp.platform.commands.keys.version()).split(',');
    const self = await admin(cp, 'POST', `/admin/v1/playbook-steps/${rotate.id}/decision`, {
      decision: 'approve',
      reason: 'my own step',
    });
    expect(self.status).toBe(403);
    expect(self.json).toMatchObject({ code: 'ERR_INCIDENT_APPROVAL_REFUSED' });
    expect((await cp.platform.commands.keys.version()).split(',')).toEqual(before);
    const [refusal] = await cp.platform.audit.list({ type: 'incidents.playbook.step_approval_refused' });
    expect(refusal).toMatchObject({ actor: { id: 'admin' }, decision: 'deny', reason: 'two_person_rule' });
    const ok = await admin(
      cp,
      'POST',
      `/admin/v1/playbook-steps/${rotate.id}/decision`,
      { decision: 'approve', reason: 'second pair of eyes' },
      second,
    );
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    const step = (ok.json as unknown as RunJson).steps.find((s) => s.stepId === 'rotate')!;
    expect(step).toMatchObject({ state: 'done', decidedBy: 'second-operator' });
    const again = await admin(cp, 'POST', `/admin/v1/playbook-steps/${rotate.id}/decision`, {
      decision: 'approve',
      reason: 'again',
    });
    expect(again.status).toBe(409);
  });

  it('lists playbooks and runs, and computes the governance numbers from the runs', async () => {
    const list = await admin(cp, 'GET', '/admin/v1/playbooks');
    expect((list.json as { playbooks: { id: string }[] }).playbooks.map((p) => p.id)).toEqual([
      'account-takeover',
      'command-key-compromise',
      'command-replay-or-injection',
      'device-credential-compromise',
      'partner-compromise',
      'telemetry-forgery',
    ]);
    const g = await admin(cp, 'GET', '/admin/v1/governance/response?days=1');
    expect(g.status).toBe(200);
    const body = g.json as {
      timeToRevoke: Record<string, { count: number; p50Ms: number | null; maxMs: number | null }>;
      timeToIdentifyAffectedVehicles: { count: number; meanMs: number | null };
      incidents: { opened: number; falsePositives: number };
    };
    expect(body.timeToRevoke.vehicle!.count).toBeGreaterThanOrEqual(3);
    expect(body.timeToRevoke.user!.count).toBe(1);
    expect(body.timeToRevoke.partner!.count).toBe(1);
    expect(body.timeToRevoke.service!.count).toBe(1);
    expect(body.timeToRevoke.vehicle!.maxMs).toBeGreaterThanOrEqual(body.timeToRevoke.vehicle!.p50Ms!);
    expect(body.timeToIdentifyAffectedVehicles.count).toBeGreaterThanOrEqual(5);
    expect(body.incidents.falsePositives).toBe(1);
    // Counted from the trail's denials, not from findings: a finding names no more denials than it holds.
    const cross = finding({ ruleId: 'cross-tenant-access', severity: 'low', evidence: ['e1', 'e2', 'e3'] });
    const before = (g.json as { crossTenantAuthorizationFailures: { count: number } }).crossTenantAuthorizationFailures;
    await report(cp, cross);
    const g2 = await admin(cp, 'GET', '/admin/v1/governance/response?days=1');
    expect(g2.json).toMatchObject({ crossTenantAuthorizationFailures: { count: before.count } });
  });

  it("a run given the dry run's digest is refused once the incident's targets changed, and nothing runs", async () => {
    const [x, y] = [await cp.enrolledDevice('TCU-DIGEST-1'), await cp.enrolledDevice('TCU-DIGEST-2')];
    const { incidentId, finding: f } = await openFor(cp, { devices: [x.credentials!.issued.deviceId] }, 'digest');
    const path = `/admin/v1/incidents/${incidentId}/playbooks/device-credential-compromise`;
    const digest = async () => String((await admin(cp, 'POST', `${path}/dry-run`)).json.digest);
    const reviewed = await digest();
    expect(await digest()).toBe(reviewed);
    // A repeat of the finding names another unit: it joins the open incident after the operator's review.
    await report(
      cp,
      finding({ groupKey: f.groupKey, severity: 'critical', assets: { devices: [y.credentials!.issued.deviceId] } }),
    );
    const refused = await admin(cp, 'POST', `${path}/runs?expectDigest=${reviewed}`);
    expect(refused.json).toMatchObject({ status: 409, code: 'ERR_CONFLICT' });
    expect(((await admin(cp, 'GET', `/admin/v1/incidents/${incidentId}/runs`)).json.runs as unknown[]).length).toBe(0);
    expect((await deviceGet(cp, y)).status).toBe(200);
    const again = await digest();
    expect(again).not.toBe(reviewed);
    expect((await admin(cp, 'POST', `${path}/runs?expectDigest=${again}`)).status).toBe(201);
  });

  it('an unknown playbook or incident answers 404; the admin plane needs an operator certificate', async () => {
    const { incidentId } = await openFor(cp, {});
    expect((await admin(cp, 'POST', `/admin/v1/incidents/${incidentId}/playbooks/nope/dry-run`)).status).toBe(404);
    const missing = crypto.randomUUID();
    expect((await admin(cp, 'GET', `/admin/v1/incidents/${missing}`)).status).toBe(404);
    const anonymous = await httpsRequest(`${cp.addresses.admin}/admin/v1/incidents`, { ca: cp.ca });
    expect(anonymous.status).toBe(401);
  });
});
