import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { readScenario } from '../src/server/index.js';
import { FixedClock } from '../src/platform/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import {
  CommandChannel,
  EnvelopeVerifier,
  GatewayClient,
  MemoryAnswerStore,
  MemoryCounterStore,
} from './commands-support.js';

const scenario = readScenario('scenarios/demo.yaml');

/** Signs in the demo's people and enrolls the units of alice-car and the two Northwind vans. */
async function world(cp: TestCarapace, clock: FixedClock) {
  const people = new Map<string, CarapaceClient>();
  const vehicles = new Map<string, string>();
  const devices = new Map<string, GatewayClient>();
  for (const v of await cp.platform.storage.db.selectFrom('vehicles').select(['id', 'vin']).execute()) {
    const key = scenario.vehicles?.find((s) => s.vin === v.vin)?.key;
    if (key) vehicles.set(key, v.id);
  }
  const login = async (key: string, clientId: string, scopes: string[]) => {
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
      ...(u.totp ? { totp: () => currentTotp(u.totp!, clock.now()) } : {}),
    });
    people.set(key, c);
  };
  await login('alice', 'carapace-owner-app', ['openid', 'vehicle:read_status', 'vehicle:lock']);
  await login('fiona', 'carapace-fleet-console', ['openid', 'fleet:read', 'fleet:command', 'vehicle:read_status']);
  for (const [vehicle, serial] of [
    ['alice-car', 'TCU-DEMO-0001'],
    ['northwind-van-1', 'TCU-DEMO-0101'],
    ['northwind-van-2', 'TCU-DEMO-0102'],
  ] as const) {
    const dir = join(cp.config.dataDir, 'factory', serial);
    const d = new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca });
    await d.enroll({
      cert: readFileSync(join(dir, 'factory-cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'factory-key.pem'), 'utf8'),
    });
    devices.set(vehicle, d);
  }
  const lock = (who: string, vehicle: string) =>
    people
      .get(who)!
      .api(
        'POST',
        `/v1/vehicles/${vehicles.get(vehicle)}/commands`,
        { command: 'lock' },
        { 'idempotency-key': crypto.randomUUID() },
      );
  /** Lets the vehicle's unit connect, execute what is queued for it and confirm it, so nothing stays in flight. */
  const drain = async (vehicle: string) => {
    const device = devices.get(vehicle)!;
    const { issued } = device.credentials!;
    const channel = new CommandChannel({
      answered: new MemoryAnswerStore(),
      gateway: device,
      verifier: new EnvelopeVerifier({
        keys: issued.commandVerificationKeys.keys,
        vehicleId: issued.vehicleId,
        deviceId: issued.deviceId,
        trustAnchor: cp.ca,
        counters: new MemoryCounterStore(),
        now: () => clock.now().getTime(),
      }),
      execute: () => ({ result: 'executed', code: null }),
      reconnect: false,
    });
    await channel.connect();
    for (let i = 0; i < 200; i++) {
      const open = await cp.platform.storage.db
        .selectFrom('command_jobs')
        .select(['id'])
        .where('vehicle_id', '=', vehicles.get(vehicle)!)
        .where('state', 'in', ['requested', 'authorized', 'queued', 'delivered', 'executed'])
        .execute();
      if (open.length === 0) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    channel.close();
  };
  return { people, vehicles, devices, lock, drain };
}

const outcome = (r: { status: number; json: unknown }) =>
  r.status === 202 ? 'queued' : `${r.status} ${(r.json as { reason?: string }).reason}`;

describe.each(testEngines())('a conflict group holds under concurrent requests (%s)', (database) => {
  let cp: TestCarapace;
  let w: Awaited<ReturnType<typeof world>>;
  const clock = new FixedClock(Date.now());
  beforeAll(async () => {
    cp = await startTestCarapace({
      database,
      clock,
      overrides: { seedDemo: true, commands: { dispatchInterval: 60 } },
    });
    w = await world(cp, clock);
  }, 120_000);
  afterAll(async () => {
    for (const d of w?.devices.values() ?? []) d.close();
    await cp?.stop();
  });

  it('six concurrent locks with different keys on one vehicle: one is queued, five are rejected', async () => {
    for (const [who, vehicle] of [
      ['alice', 'alice-car'],
      ['fiona', 'northwind-van-1'],
      ['fiona', 'northwind-van-2'],
    ] as const) {
      // One round per vehicle: six locks are more than half of a vehicle's lock sequence limit (10 a minute).
      const results = await Promise.all(Array.from({ length: 6 }, () => w.lock(who, vehicle)));
      expect(results.map(outcome).sort()).toEqual([
        ...Array<string>(5).fill('409 conflicting_command_in_flight'),
        'queued',
      ]);
      await w.drain(vehicle);
    }
  });
});

describe.each(testEngines())('the tenant concurrency cap holds under concurrent requests (%s)', (database) => {
  let cp: TestCarapace;
  let w: Awaited<ReturnType<typeof world>>;
  const clock = new FixedClock(Date.now());
  beforeAll(async () => {
    cp = await startTestCarapace({
      database,
      clock,
      overrides: { seedDemo: true, commands: { tenantConcurrency: 1, dispatchInterval: 60 } },
    });
    w = await world(cp, clock);
  }, 120_000);
  afterAll(async () => {
    for (const d of w?.devices.values() ?? []) d.close();
    await cp?.stop();
  });
  const drainVans = async () => {
    await w.drain('northwind-van-1');
    await w.drain('northwind-van-2');
  };

  it('concurrent requests on two fleet vehicles with a cap of one: exactly one is in flight', async () => {
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all([w.lock('fiona', 'northwind-van-1'), w.lock('fiona', 'northwind-van-2')]);
      expect(results.map(outcome).sort()).toEqual(['409 tenant_concurrency_cap', 'queued']);
      await drainVans();
    }
  });

  it('two concurrent fleet batches with a cap of one: one is created, the other gets 429', async () => {
    const fleet = (
      await cp.platform.storage.db
        .selectFrom('tenants')
        .select(['id'])
        .where('name', 'like', 'Northwind%')
        .executeTakeFirstOrThrow()
    ).id;
    for (let round = 0; round < 3; round++) {
      const batch = (vehicle: string) =>
        w.people
          .get('fiona')!
          .api(
            'POST',
            `/v1/fleets/${fleet}/commands`,
            { command: 'lock', vehicleIds: [w.vehicles.get(vehicle)!] },
            { 'idempotency-key': crypto.randomUUID() },
          );
      const results = await Promise.all([batch('northwind-van-1'), batch('northwind-van-2')]);
      expect(results.map((r) => r.status).sort()).toEqual([202, 429]);
      const created = results.find((r) => r.status === 202)!.json as { jobs: Array<{ state: string }> };
      expect(created.jobs.map((j) => j.state)).toEqual(['queued']);
      await drainVans();
    }
  });
});
