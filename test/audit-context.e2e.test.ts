import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { readScenario } from '../src/server/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { httpsRequest } from '../src/vehicle-sdk/index.js';

const scenario = readScenario('scenarios/demo.yaml');

/**
 * Issue 12 item 1: every event a request causes carries its request id, trace id and source address, and the
 * tenant wherever one is known. A typical run (sign-in, token, a command, a denial) is enumerated event by event,
 * so a new writer that forgets the context fails here, on every engine.
 */
describe.each(testEngines())('audit events carry their request context (%s)', (database) => {
  let cp: TestCarapace;
  beforeAll(async () => {
    cp = await startTestCarapace({ database, overrides: { seedDemo: true } });
  }, 60_000);
  afterAll(async () => {
    await cp?.stop();
  });

  it('sign-in, token, a command and a denial: each event names the request, its source and its tenant', async () => {
    const db = cp.platform.storage.db;
    const vehicles = await db.selectFrom('vehicles').select(['id', 'vin']).execute();
    const car = (vin: string) => vehicles.find((v) => v.vin === vin)!.id;
    const before = (await cp.platform.audit.list({ limit: 1 }))[0]?.seq ?? 0;

    const alice = scenario.users.find((u) => u.key === 'alice')!;
    const client = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await client.login({
      email: alice.email,
      password: alice.password,
      scopes: ['openid', 'vehicle:read_status', 'vehicle:lock'],
      ...(alice.totp ? { totp: () => currentTotp(alice.totp!, new Date()) } : {}),
    });
    const lock = await client.api(
      'POST',
      `/v1/vehicles/${car('5YJ3E1EA7KF000001')}/commands`,
      { command: 'lock' },
      {
        'idempotency-key': 'context-1',
      },
    );
    // No unit is enrolled, so the job is created and rejected (`no_active_device`): a command decision either way.
    expect(lock.json).toMatchObject({ code: 'ERR_COMMAND_REJECTED', reason: 'no_active_device' });
    // Bob's car: a denial (404 to Alice, the same as a missing vehicle).
    expect((await client.api('GET', `/v1/vehicles/${car('5YJ3E1EA7KF000002')}/status`)).status).toBe(404);

    // A forged token: refused before any principal is known, still with the request's context.
    const forged = await httpsRequest(`${cp.addresses.public}/v1/me`, {
      ca: cp.ca,
      headers: { authorization: 'Bearer x.y.z' },
    });
    expect(forged.status).toBe(401);

    // Events no request causes (the detection engine's findings, periodic aggregates, the deprecated-version usage
    // flush) carry no request context.
    const background = ['detect.', 'incidents.', 'telemetry.volume.', 'gateway.tls.', 'http.version.'];
    const events = (await cp.platform.audit.list({ afterSeq: before, limit: 1000 }))
      .reverse()
      .filter((e) => !background.some((p) => e.type.startsWith(p)));
    const seen = new Set(events.map((e) => e.type));
    for (const t of ['auth.token.issued', 'authz.decision', 'commands.job.requested'])
      expect([...seen].join(' '), t).toContain(t);
    expect(events.filter((e) => e.decision === 'deny').map((e) => e.actor.type)).toEqual(
      expect.arrayContaining(['user', 'anonymous']),
    );
    for (const e of events) {
      const label = `${e.type} (${e.decision}, seq ${e.seq})`;
      expect(e.context.requestId, label).toBeTruthy();
      expect(e.context.sourceIp, label).toBeTruthy();
      if (e.actor.type === 'user' || e.actor.type === 'application') expect(e.tenantId, label).toBeTruthy();
    }
  }, 60_000);
});
