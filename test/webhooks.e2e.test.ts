import { execFile } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySeenStore, request, verifyWebhook, type WebhookVerificationError } from '../src/client/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { GatewayClient } from '../src/vehicle-sdk/index.js';
import { type Caller, demoIds, type Receiver, receiverPki, signIn, startReceiver, until } from './webhooks-support.js';
import { signerFor, wire } from './telemetry-support.js';

type Sub = { id: string; url: string; status: string; disabledReason: string | null; eventTypes: string[] };
type Created = { subscription: Sub; secret: string };
type Delivery = { id: string; state: string; attempts: number; withheldReason: string | null; eventType: string };

const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli/main.ts')];

/** `carapace webhooks <args>` against a test server's admin plane, with its default operator files. */
async function carapace(cp: TestCarapace, ...args: string[]): Promise<string> {
  const env = { ...process.env, CARAPACE_DATA_DIR: cp.config.dataDir, DATABASE_URL: '', REDIS_URL: '' };
  const { stdout } = await promisify(execFile)(
    'node',
    [...CLI, 'webhooks', '--admin-url', cp.addresses.admin, ...args],
    {
      env,
      timeout: 60_000,
    },
  );
  return stdout;
}

/** A delivery body as Carapace signs it. */
type Body = { id: string; type: string; tenant: string; data: Record<string, unknown> };

/** Bodies a receiver got on a path, parsed. */
const bodies = (r: Receiver, path: string) =>
  r.received.filter((x) => x.path === path).map((x) => JSON.parse(x.body) as Body);

describe.each(testEngines())('webhooks end to end (%s)', (database) => {
  let cp: TestCarapace;
  let receiver: Receiver;
  let ids: Awaited<ReturnType<typeof demoIds>>;
  let fiona: Caller;
  let carl: Caller;
  let bob: Caller;
  let partner: Caller;
  let admin: (method: string, path: string, body?: unknown) => Promise<{ status: number; json: unknown }>;

  beforeAll(async () => {
    const pki = await receiverPki();
    receiver = await startReceiver(pki);
    cp = await startTestCarapace({
      database,
      outbound: pki.injection,
      overrides: {
        seedDemo: true,
        detect: { enabled: false },
        audit: { checkpointInterval: 1 },
        webhooks: {
          interval: 0.1,
          retryBase: 0.05,
          retryMax: 0.2,
          maxAttempts: 3,
          disableAfter: 5,
          secretOverlap: 3600,
          // A held first attempt must outlast the change made while it is held, on a loaded machine too: a
          // timeout there retries before the change and delivers, which is not what the test is about.
          timeout: 60,
          leaseTtl: 90,
        },
        outbound: { breaker: { failures: 3, cooldown: 1 } },
      },
    });
    ids = await demoIds(cp);
    fiona = await signIn(cp, 'fiona', 'carapace-fleet-console', [
      'fleet:admin',
      'fleet:command',
      'vehicle:read_status',
    ]);
    carl = await signIn(cp, 'carl', 'carapace-fleet-console', ['fleet:admin']);
    bob = await signIn(cp, 'bob', 'carapace-owner-app', ['vehicle:read_status', 'vehicle:lock', 'vehicle:consent']);
    partner = await signIn(cp, 'chargenet-charging', '', ['vehicle:read_status']);
    admin = async (method, path, body) => {
      const r = await request(`${cp.addresses.admin}${path}`, {
        method,
        ca: cp.ca,
        ...cp.operatorTls,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, json: r.json };
    };
  }, 180_000);
  afterAll(async () => {
    await cp?.stop();
    await receiver?.close();
  });

  const subscribe = async (who: Caller, tenant: string, path: string, eventTypes: string[]) => {
    const r = await who.api('POST', `/v1/tenants/${tenant}/webhooks`, { url: receiver.url(path), eventTypes });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    return r.json as Created;
  };
  const lock = async (who: Caller, vehicleId: string, key: string) => {
    const r = await who.api(
      'POST',
      `/v1/vehicles/${vehicleId}/commands`,
      { command: 'lock' },
      { 'idempotency-key': key },
    );
    // Without an enrolled unit the job is refused (no_active_device): requested, then rejected, both audited.
    expect([200, 202, 409], JSON.stringify(r.json)).toContain(r.status);
    const j = r.json as { id?: string; job?: string };
    return { id: (j.id ?? j.job)! };
  };
  const deliveries = async (who: Caller, tenant: string, sub: string) => {
    const r = await who.api('GET', `/v1/tenants/${tenant}/webhooks/${sub}/deliveries`);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    return (r.json as { deliveries: Delivery[] }).deliveries;
  };

  it('registers an endpoint: whsec_ secret shown once, stored sealed; a refused URL is a 400', async () => {
    const created = await subscribe(fiona, ids.northwind, '/fleet', ['command.job.state_changed']);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    const read = await fiona.api('GET', `/v1/tenants/${ids.northwind}/webhooks/${created.subscription.id}`);
    expect(read.status).toBe(200);
    expect(JSON.stringify(read.json)).not.toContain(created.secret.slice(6, 20));
    const row = await cp.platform.storage.db.selectFrom('webhook_subscriptions').selectAll().executeTakeFirstOrThrow();
    const trail = await cp.platform.storage.db.selectFrom('audit_events').select('details').execute();
    expect(JSON.stringify(row)).not.toContain(created.secret.slice(6));
    expect(JSON.stringify(trail)).not.toContain(created.secret.slice(6));
    for (const url of ['https://169.254.169.254/latest', 'https://10.0.0.8/hook', 'http://hooks.example.test/x']) {
      const refused = await fiona.api('POST', `/v1/tenants/${ids.northwind}/webhooks`, {
        url,
        eventTypes: ['command.job.state_changed'],
      });
      expect(refused.status).toBe(400);
      expect(refused.json).toMatchObject({ type: 'urn:carapace:problem:webhook-url-refused' });
    }
    const listed = await fiona.api('GET', `/v1/tenants/${ids.northwind}/webhooks`);
    expect((listed.json as { subscriptions: Sub[] }).subscriptions).toHaveLength(1);
  });

  it("another tenant's subscription is a 404 like a missing one; partners get no security events", async () => {
    const { subscription } = await subscribe(fiona, ids.northwind, '/fleet-2', ['incident.changed']);
    const path = `/v1/tenants/${ids.northwind}/webhooks/${subscription.id}`;
    const missing = `/v1/tenants/${ids.northwind}/webhooks/00000000-0000-4000-8000-000000000000`;
    const foreign = await carl.api('GET', path);
    expect(foreign.status).toBe(404);
    const bare = (j: unknown) => ({ ...(j as object), instance: null });
    expect(bare(foreign.json)).toEqual(bare((await carl.api('GET', missing)).json));
    expect((await carl.api('DELETE', path)).status).toBe(404);
    // Through Carl's own tenant the subscription does not exist either.
    expect((await carl.api('GET', `/v1/tenants/${ids.contoso}/webhooks/${subscription.id}`)).status).toBe(404);
    expect((await partner.api('GET', path)).status).toBe(404);
    const security = await partner.api('POST', `/v1/tenants/${ids.chargenet}/webhooks`, {
      url: receiver.url('/partner-sec'),
      eventTypes: ['detection.finding'],
    });
    expect(security.status).toBe(403);
    expect(security.json).toMatchObject({ type: 'urn:carapace:problem:webhook-events-forbidden' });
    expect((await partner.api('GET', `/v1/tenants/${ids.northwind}/webhooks`)).status).toBe(404);
    expect((await fiona.api('DELETE', path)).status).toBe(204);
  });

  it('delivers job changes in order, verified by standardwebhooks (v1) and plain Ed25519 (v1a)', async () => {
    const { subscription, secret } = await subscribe(fiona, ids.northwind, '/jobs', ['command.job.state_changed']);
    const job = await lock(fiona, ids.northwindVan, 'wh-order-1');
    const transitions = async () => {
      const r = await fiona.api('GET', `/v1/vehicles/${ids.northwindVan}/commands/${job.id}`);
      return (r.json as { transitions: { to: string }[] }).transitions.map((t) => t.to);
    };
    const got = await until(
      'every state change so far delivered',
      async () => {
        const b = bodies(receiver, '/jobs').filter((x) => x.data.jobId === job.id);
        const history = await transitions();
        return b.length > 0 && b.length === history.length ? b : null;
      },
      600,
      async () => JSON.stringify(await cp.platform.storage.db.selectFrom('webhook_deliveries').selectAll().execute()),
    );
    const history = await transitions();
    expect(got.map((b) => b.data.to)).toEqual(history);
    expect(got[0]).toMatchObject({ type: 'command.job.state_changed', tenant: ids.northwind });
    // v1 with the reference implementation of the specification (it ignores the v1a signature beside it).
    const reference = new Webhook(secret);
    const keySet = (await request(`${cp.config.publicBaseUrl}/v1/webhooks/keys`, { ca: cp.ca })).json as {
      keys: { kid: string; publicKey: string }[];
    };
    for (const r of receiver.received.filter((x) => x.path === '/jobs')) {
      expect(reference.verify(r.body, r.headers)).toMatchObject({ tenant: ids.northwind });
      // v1a from the specification's text: Ed25519 over `${id}.${timestamp}.${body}`, the key base64 after whpk_.
      const content = `${r.headers['webhook-id']}.${r.headers['webhook-timestamp']}.${r.body}`;
      const v1a = r.headers['webhook-signature']!.split(' ')
        .find((p) => p.startsWith('v1a,'))!
        .slice(4);
      const ok = keySet.keys.some((k) => {
        const raw = Buffer.from(k.publicKey.replace(/^whpk_/, ''), 'base64');
        const key = createPublicKey({
          key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
          format: 'jwk',
        });
        return verify(null, Buffer.from(content), key, Buffer.from(v1a, 'base64'));
      });
      expect(ok).toBe(true);
    }
    const tampered = receiver.received.find((x) => x.path === '/jobs')!;
    expect(() => reference.verify(tampered.body.replace(ids.northwind, ids.contoso), tampered.headers)).toThrow();
    expect(subscription.eventTypes).toEqual(['command.job.state_changed']);
  });

  it("the verifier accepts once; refuses duplicate, other tenant's, old, future, forged", async () => {
    const r = await until('a delivery', () => receiver.received.find((x) => x.path === '/jobs'));
    const listed = (await fiona.api('GET', `/v1/tenants/${ids.northwind}/webhooks`)).json as { subscriptions: Sub[] };
    const sub = listed.subscriptions.find((x) => x.url.endsWith('/jobs'))!;
    const rotated = (await fiona.api('POST', `/v1/tenants/${ids.northwind}/webhooks/${sub.id}/rotate-secret`))
      .json as Created;
    const keySet = (await request(`${cp.config.publicBaseUrl}/v1/webhooks/keys`, { ca: cp.ca })).json as {
      keys: { kid: string; publicKey: string }[];
    };
    const at = Number(r.headers['webhook-timestamp']) * 1000;
    const seen = new MemorySeenStore();
    const base = { headers: r.headers, body: r.body, keySet, seen, now: () => at + 1000 };
    const refusal = (p: Promise<unknown>) =>
      p.then(
        () => 'accepted',
        (e: WebhookVerificationError) => e.code,
      );
    expect(await refusal(verifyWebhook({ ...base, tenant: ids.contoso }))).toBe('wrong_tenant');
    const ok = await verifyWebhook({ ...base, tenant: ids.northwind });
    expect(ok).toMatchObject({ scheme: 'v1a', tenant: ids.northwind, type: 'command.job.state_changed' });
    expect(await refusal(verifyWebhook({ ...base, tenant: ids.northwind }))).toBe('duplicate');
    const fresh = { ...base, seen: new MemorySeenStore(), tenant: ids.northwind };
    expect(await refusal(verifyWebhook({ ...fresh, now: () => at + 301_000 }))).toBe('too_old');
    expect(await refusal(verifyWebhook({ ...fresh, now: () => at - 301_000 }))).toBe('too_new');
    expect(await refusal(verifyWebhook({ ...fresh, keySet: undefined, secret: rotated.secret }))).toBe('bad_signature');
    expect(await refusal(verifyWebhook({ ...fresh, body: r.body.replace('"type"', '"type" ') }))).toBe('bad_signature');
    // After a rotation both secrets sign for the overlap: a receiver still on the old one keeps verifying.
    const queued = await fiona.api('POST', `/v1/tenants/${ids.northwind}/webhooks/${sub.id}/ping`);
    expect(queued.status, JSON.stringify(queued.json)).toBe(202);
    const ping = await until(
      'the ping',
      () => receiver.received.find((x) => x.path === '/jobs' && x.body.includes('"webhook.ping"')),
      600,
      async () =>
        JSON.stringify(
          await cp.platform.storage.db
            .selectFrom('webhook_deliveries')
            .selectAll()
            .where('event_type', '=', 'webhook.ping')
            .execute(),
        ),
    );
    expect(ping.headers['webhook-signature']!.split(' ').filter((p) => p.startsWith('v1,'))).toHaveLength(2);
    const pinged = { headers: ping.headers, body: ping.body, tenant: ids.northwind, seen: new MemorySeenStore() };
    expect(await verifyWebhook({ ...pinged, secret: rotated.secret })).toMatchObject({ scheme: 'v1' });
  });

  it('re-decides each attempt: transfer, ended consent, suspended partner withhold queued ones', async () => {
    const alice = await signIn(cp, 'alice', 'carapace-owner-app', ['vehicle:lock', 'vehicle:transfer']);
    const insights = await signIn(cp, 'insights-readonly', '', ['vehicle:read_status']);
    const insightsTenant = (
      await cp.platform.storage.db
        .selectFrom('applications')
        .select('tenant_id')
        .where('client_id', '=', 'insights-readonly')
        .executeTakeFirstOrThrow()
    ).tenant_id;
    const types = ['command.job.state_changed', 'consent.revoked'];
    const toInsights = await subscribe(insights, insightsTenant, '/insights', types);
    const toCharge = await subscribe(partner, ids.chargenet, '/chargenet', types);
    const grant = await bob.api('POST', `/v1/vehicles/${ids.bobCar}/partner-grants`, {
      clientId: 'insights-readonly',
      scopes: ['vehicle:read_status'],
      until: new Date(Date.now() + 86400_000).toISOString(),
    });
    expect(grant.status).toBe(201);

    /** A job whose first delivery is held at the receiver while `change` happens; then every one is withheld. */
    const heldThenWithheld = async (
      who: Caller,
      vehicle: string,
      path: string,
      tenant: string,
      sub: string,
      change: () => Promise<void>,
      reason: string,
    ) => {
      // Read on the admin plane: a suspended partner's own token no longer reads anything.
      const list = async () =>
        ((await admin('GET', `/admin/v1/webhooks/deliveries?subscription=${sub}`)).json as { deliveries: Delivery[] })
          .deliveries;
      const before = new Set((await list()).map((d) => d.id));
      receiver.answer = (p) => (p === path ? 'hold' : 200);
      const mine = async () =>
        (await list()).filter((d) => !before.has(d.id) && d.eventType === 'command.job.state_changed');
      const job = await lock(who, vehicle, `wh-${path}-${reason}`);
      await until('the first attempt held at the receiver', () => receiver.held > 0);
      // Both state changes must be queued before the change: the trail is fanned out page by page, and an event
      // fanned out after the change is (rightly) never queued for a receiver that may no longer see it.
      await until(
        'both state changes queued',
        async () => (await mine()).length === 2,
        600,
        async () => JSON.stringify(await mine()),
      );
      receiver.answer = () => 200;
      await change();
      receiver.release(503);
      const withheld = await until(
        `the queued deliveries withheld (${reason})`,
        async () => {
          const all = await mine();
          // requested and rejected: two state changes, both queued, neither sent after the change.
          return all.length === 2 && all.every((d) => d.state === 'withheld') ? all : null;
        },
        600,
        async () => JSON.stringify(await mine()),
      );
      expect(withheld.map((d) => d.withheldReason)).toEqual(withheld.map(() => reason));
      const sent = bodies(receiver, path).filter((b) => b.data.jobId === job.id);
      expect(sent).toHaveLength(1);
    };
    const aliceCar = (
      await cp.platform.storage.db
        .selectFrom('vehicles')
        .select('id')
        .where('vin', '=', '5YJ3E1EA7KF000001')
        .executeTakeFirstOrThrow()
    ).id;

    await heldThenWithheld(
      alice,
      aliceCar,
      '/insights',
      insightsTenant,
      toInsights.subscription.id,
      async () => {
        expect(
          (await alice.api('POST', `/v1/vehicles/${aliceCar}/transfer`, { toEmail: 'bob@example.com' })).status,
        ).toBe(200);
      },
      'consent_ended',
    );
    const grants = (await bob.api('GET', `/v1/vehicles/${ids.bobCar}/partner-grants`)).json as {
      grants: { id: string; clientId: string }[];
    };
    const chargeGrant = grants.grants.find((g) => g.clientId === 'chargenet-charging')!;
    await heldThenWithheld(
      bob,
      ids.bobCar,
      '/chargenet',
      ids.chargenet,
      toCharge.subscription.id,
      async () => {
        expect((await bob.api('POST', `/v1/partner-grants/${chargeGrant.id}/revoke`, { reason: 'test' })).status).toBe(
          200,
        );
      },
      'consent_ended',
    );
    await until('consent.revoked delivered to ChargeNet', () =>
      bodies(receiver, '/chargenet').find((b) => b.type === 'consent.revoked'),
    );
    await heldThenWithheld(
      bob,
      ids.bobCar,
      '/insights',
      insightsTenant,
      toInsights.subscription.id,
      async () => {
        await cp.platform.auth.suspendClient({
          clientId: 'insights-readonly',
          actor: { type: 'operator', id: 'test' },
          reason: 'test',
        });
      },
      'partner_suspended',
    );
  });

  it('retries, dead-letters and replays; a failing endpoint is disabled; its breaker opens and closes', async () => {
    const { subscription } = await subscribe(fiona, ids.northwind, '/dead', ['command.job.state_changed']);
    const sub = subscription.id;
    receiver.answer = (p) => (p === '/dead' ? 'reset' : 200);
    await lock(fiona, ids.northwindVan, 'wh-dead-1');
    const item = `/v1/tenants/${ids.northwind}/webhooks/${sub}`;
    const opened = await until('the breaker of the subscription open', () =>
      cp.platform.outbound.breakers().find((b) => b.key === sub && b.state === 'open'),
    );
    expect(opened.failures).toBeGreaterThanOrEqual(3);
    const disabled = await until('the endpoint disabled', async () => {
      const s = (await fiona.api('GET', item)).json as Sub;
      return s.status === 'disabled' ? s : null;
    });
    expect(disabled.disabledReason).toMatch(/consecutive failed attempts/);
    // The first state change used its attempts and was dead-lettered; the next waits while the endpoint is disabled.
    const all = await deliveries(fiona, ids.northwind, sub);
    const dead = all.filter((d) => d.state === 'dead');
    expect(dead.map((d) => d.attempts)).toEqual([3]);
    expect(all.filter((d) => d.state === 'pending')).toHaveLength(1);
    const trail = await cp.platform.storage.db
      .selectFrom('audit_events')
      .select(['type', 'object_id'])
      .where('type', 'in', ['webhooks.delivery.dead_lettered', 'webhooks.endpoint.disabled'])
      .execute();
    expect(
      trail
        .filter((e) => e.type === 'webhooks.delivery.dead_lettered')
        .map((e) => e.object_id)
        .sort(),
    ).toEqual(dead.map((d) => d.id).sort());
    expect(trail.filter((e) => e.type === 'webhooks.endpoint.disabled').map((e) => e.object_id)).toEqual([sub]);

    receiver.answer = () => 200;
    expect((await fiona.api('PUT', item, { status: 'active' })).status).toBe(200);
    // The dead letters and their replay through the CLI, as an operator does it.
    const listed = await carapace(cp, 'deliveries', '--state', 'dead');
    expect(listed).toContain(dead[0]!.id);
    const replayed = JSON.parse(await carapace(cp, '--json', 'replay', ...dead.map((d) => d.id))) as {
      replayed: Delivery[];
    };
    expect(replayed.replayed.map((d) => d.state)).toEqual(['pending']);
    await until('the replayed deliveries delivered', async () =>
      (await deliveries(fiona, ids.northwind, sub)).every((d) => d.state === 'delivered'),
    );
    await until('the breaker closed', () =>
      cp.platform.outbound.breakers().every((b) => b.key !== sub || b.state === 'closed'),
    );
    const again = await admin('POST', '/admin/v1/webhooks/deliveries/replay', { ids: [dead[0]!.id] });
    expect(again.status).toBe(409);
    expect(again.json).toMatchObject({ type: 'urn:carapace:problem:webhook-not-replayable' });
  });
  it("tells a fleet of its van's lock, gear and charging changes from telemetry, and no other tenant", async () => {
    const types = ['vehicle.state_changed'];
    await subscribe(fiona, ids.northwind, '/fleet-state', types);
    const contoso = await subscribe(carl, ids.contoso, '/contoso-state', types);
    // The demo provisioned the van's unit: it enrolls with the factory credentials the demo wrote.
    const factory = join(cp.config.dataDir, 'factory', 'TCU-DEMO-0101');
    const client = new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca });
    await client.enroll({
      cert: readFileSync(join(factory, 'factory-cert.pem'), 'utf8'),
      key: readFileSync(join(factory, 'factory-key.pem'), 'utf8'),
    });
    const signer = signerFor(client);
    const send = async (...payloads: Parameters<typeof signer.sign>[0][]) => {
      const signed = [];
      for (const p of payloads) signed.push(wire(await signer.sign(p)));
      return client.sendTelemetry(signed);
    };
    expect(await send({ kind: 'doors', locked: true, open: [] }, { kind: 'gear', gear: 'P' })).toMatchObject({
      accepted: 2,
    });
    // The same state again, and a speed reading: no discrete change, so no event.
    await send({ kind: 'doors', locked: true, open: [] }, { kind: 'speed', kmh: 0 });
    await send({ kind: 'doors', locked: false, open: ['front_left'] });
    const got = await until('two state changes delivered to the fleet', () => {
      const b = bodies(receiver, '/fleet-state');
      return b.length >= 2 ? b : null;
    });
    expect(got.map((b) => b.data)).toEqual([
      expect.objectContaining({ vehicleId: ids.northwindVan, changed: ['locks', 'gear'], locked: true, gear: 'P' }),
      expect.objectContaining({
        vehicleId: ids.northwindVan,
        changed: ['locks'],
        locked: false,
        openDoors: ['front_left'],
      }),
    ]);
    expect(got.every((b) => b.type === 'vehicle.state_changed' && b.tenant === ids.northwind)).toBe(true);
    // Contoso's subscription was decided against at fan-out: its admin has no relationship to Northwind's van, so
    // nothing was even queued for it (the fleet's deliveries, written in the same round, are there).
    expect(await deliveries(carl, ids.contoso, contoso.subscription.id)).toEqual([]);
    expect(bodies(receiver, '/contoso-state')).toEqual([]);
  });
});
