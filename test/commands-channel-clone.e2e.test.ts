import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { readScenario } from '../src/server/index.js';
import { FixedClock } from '../src/platform/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { channel, GatewayClient, parseCanonicalForTests, signAck } from './commands-support.js';

const scenario = readScenario('scenarios/demo.yaml');
const clock = new FixedClock(Date.now());
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts a demo Carapace and enrolls alice-car's unit. */
async function setup(database: 'sqlite' | 'postgres', duplicateChannel?: string) {
  const cp = await startTestCarapace({
    database,
    clock,
    overrides: { seedDemo: true, ...(duplicateChannel ? { commands: { duplicateChannel } } : {}) },
  });
  const dir = join(cp.config.dataDir, 'factory', 'TCU-DEMO-0001');
  const device = new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca });
  await device.enroll({
    cert: readFileSync(join(dir, 'factory-cert.pem'), 'utf8'),
    key: readFileSync(join(dir, 'factory-key.pem'), 'utf8'),
  });
  return { cp, device };
}

const duplicateEvents = async (cp: TestCarapace, vehicleId: string) => {
  for (let i = 0; i < 100; i++) {
    const events = await cp.platform.audit.list({ type: 'commands.channel.duplicate', objectId: vehicleId, limit: 5 });
    if (events.length > 0) return events;
    await wait(50);
  }
  return [];
};

describe.each(testEngines())('a cloned certificate on the command channel, by default (%s)', (database) => {
  let cp: TestCarapace;
  let device: GatewayClient;
  let alice: CarapaceClient;
  beforeAll(async () => {
    ({ cp, device } = await setup(database));
    const u = scenario.users.find((x) => x.key === 'alice')!;
    alice = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await alice.login({
      email: u.email,
      password: u.password,
      scopes: ['openid', 'vehicle:read_status', 'vehicle:lock'],
      ...(u.totp ? { totp: () => currentTotp(u.totp!, clock.now()) } : {}),
    });
  }, 120_000);
  afterAll(async () => {
    device?.close();
    await cp?.stop();
  });

  it('the second channel is refused and recorded; the first keeps receiving commands', async () => {
    const { vehicleId } = device.credentials!.issued;
    const first = await channel(device);
    const clone = await channel(device);
    expect(await clone.closed).toBe(4409);
    const [event] = await duplicateEvents(cp, vehicleId);
    expect(event).toMatchObject({
      actor: { type: 'device', id: device.credentials!.issued.deviceId },
      decision: 'deny',
      details: { serial: device.credentials!.issued.serial, response: 'refuse' },
    });
    const res = await alice.api(
      'POST',
      `/v1/vehicles/${vehicleId}/commands`,
      { command: 'lock' },
      {
        'idempotency-key': 'after-clone',
      },
    );
    const id = (res.json as { id: string }).id;
    for (let i = 0; i < 100 && first.envelopes.length === 0; i++) await wait(25);
    expect(clone.envelopes).toEqual([]);
    const envelope = first.envelopes[0]!;
    const { counter, hash } = parseCanonicalForTests(envelope.signed);
    const { issued, key } = device.credentials!;
    const ack = { v: 1 as const, jobId: id, vehicleId, deviceId: issued.deviceId, envelopeHash: hash, counter };
    first.ws.send(
      JSON.stringify({
        type: 'ack',
        ack: signAck({ ...ack, result: 'executed', code: null, at: Date.now() }, key.privateKeyPem),
      }),
    );
    let state = '';
    for (let i = 0; i < 100 && state !== 'confirmed'; i++, await wait(25))
      state = ((await alice.api('GET', `/v1/vehicles/${vehicleId}/commands/${id}`)).json as { state: string }).state;
    expect(state).toBe('confirmed');
    first.ws.close();
    await first.closed;
  });

  it('a vehicle whose old connection went silent reconnects: the dead channel is replaced, no event', async () => {
    const { vehicleId } = device.credentials!.issued;
    const before = (await duplicateEvents(cp, vehicleId)).length;
    const stale = await channel(device);
    // The old connection stops reading (a network that dropped without a FIN): it cannot answer the ping.
    (stale.ws as unknown as { _socket: Socket })._socket.pause();
    const fresh = await channel(device);
    await wait(3500);
    expect(fresh.ws.readyState).toBe(WebSocket.OPEN);
    stale.ws.terminate();
    expect((await duplicateEvents(cp, vehicleId)).length).toBe(before);
    fresh.ws.close();
    await fresh.closed;
  }, 20_000);
});

describe.each(testEngines())('a cloned certificate with commands.duplicateChannel quarantine (%s)', (database) => {
  let cp: TestCarapace;
  let device: GatewayClient;
  beforeAll(async () => {
    ({ cp, device } = await setup(database, 'quarantine'));
  }, 120_000);
  afterAll(async () => {
    device?.close();
    await cp?.stop();
  });

  it('the device is quarantined and both channels close', async () => {
    const { vehicleId, deviceId } = device.credentials!.issued;
    const first = await channel(device);
    const clone = await channel(device);
    expect(await clone.closed).toBe(4409);
    expect([4409, 1006]).toContain(await first.closed);
    const [event] = await duplicateEvents(cp, vehicleId);
    expect(event?.details).toMatchObject({ response: 'quarantine' });
    const status = () =>
      cp.platform.storage.db
        .selectFrom('devices')
        .select(['status'])
        .where('id', '=', deviceId)
        .executeTakeFirstOrThrow();
    for (let i = 0; i < 100 && (await status()).status !== 'quarantined'; i++) await wait(25);
    expect((await status()).status).toBe('quarantined');
    await expect(channel(device)).rejects.toThrow();
  });
});
