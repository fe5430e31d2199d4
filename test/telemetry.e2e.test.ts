import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient, request } from '../src/client/index.js';
import { FixedClock } from '../src/platform/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import {
  type GatewayClient,
  MemorySequenceStore,
  signMessage,
  type TelemetryMessage,
  type TelemetryReceipt,
  TelemetrySigner,
} from '../src/vehicle-sdk/index.js';
import { postRaw, telemetryDevice, wire } from './telemetry-support.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli/main.ts')];

// Real time: TLS peers check certificate validity against the wall clock, whatever the server's clock says.
const START = Math.floor(Date.now() / 1000) * 1000;

describe.each(testEngines())('telemetry ingestion on %s', (engine) => {
  let cp: TestCarapace;
  const clock = new FixedClock(START);
  const now = () => clock.now().getTime();
  let serial = 0;
  const device = (algorithm: 'Ed25519' | 'P-256' = 'Ed25519') =>
    telemetryDevice(cp, `TCU-TM-${engine}-${serial++}`, { now, algorithm });
  const send = async (client: GatewayClient, messages: Array<{ signed: string; sig: string }>, backfill = false) =>
    client.sendTelemetry(messages.map(wire), { backfill });
  const reasons = (r: TelemetryReceipt) => r.verdicts.map((v) => (v.verdict === 'rejected' ? v.reason : v.verdict));
  const stored = (deviceId: string) =>
    cp.platform.storage.db
      .selectFrom('telemetry_messages')
      .selectAll()
      .where('device_id', '=', deviceId)
      .orderBy('seq')
      .execute();

  beforeAll(async () => {
    cp = await startTestCarapace({
      database: engine,
      clock,
      overrides: { seedDemo: true, telemetry: { quarantineThreshold: 10 } },
    });
  });
  afterAll(async () => {
    await cp.stop();
  });

  it('accepts SDK messages and shows them as vehicle state, with provenance stored', async () => {
    const { client, signer } = await device();
    const batch = [
      await signer.sign({ kind: 'speed', kmh: 42 }),
      await signer.sign({ kind: 'gear', gear: 'D' }),
      await signer.sign({ kind: 'doors', locked: true, open: [] }),
      await signer.sign({ kind: 'position', lat: 48.1374, lon: 11.5755 }),
      await signer.sign({ kind: 'battery', socPercent: 81.5, charging: false, plugged: true }),
      await signer.sign({ kind: 'odometer', km: 12345.6 }),
      await signer.sign({ kind: 'diagnostics', codes: [{ code: 'P0420', status: 'active' }] }),
    ];
    const receipt = await send(client, batch);
    expect(receipt).toMatchObject({ accepted: 7, duplicates: 0, rejected: 0 });
    const { issued } = client.credentials!;
    const at = new Date(START).toISOString();
    expect(await cp.platform.telemetry.vehicleState(issued.vehicleId)).toMatchObject({
      speedKmh: { value: 42, at },
      gear: { value: 'D', at },
      locks: { value: { locked: true, open: [] }, at },
      position: { value: { lat: 48.1374, lon: 11.5755 } },
      charging: { value: { charging: false, plugged: true, socPercent: 81.5 } },
      odometerKm: { value: 12345.6 },
      diagnostics: { value: [{ code: 'P0420', status: 'active' }] },
    });
    const rows = await stored(issued.deviceId);
    expect(rows).toHaveLength(7);
    expect(rows[0]).toMatchObject({
      vehicle_id: issued.vehicleId,
      seq: 1,
      boot_id: signer.bootId,
      sw_version: '4.2.0',
      config_id: 'cfg-1',
      cert_serial: issued.serial,
      verdict: 'accepted',
      reason: null,
      kind: 'speed',
      message_ts: at,
      backfill: 0,
    });
    expect(rows[0]?.cert_thumbprint).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(rows[0]!.signed_bytes).toString('utf8')).toBe(batch[0]!.signed);
    expect(rows[0]?.signature).toBe(batch[0]!.sig);
    // The admin plane shows the same state.
    const admin = await request(`${cp.addresses.admin}/admin/v1/vehicles/${issued.vehicleId}/state`, {
      ca: cp.ca,
      cert: cp.operatorTls.cert,
      key: cp.operatorTls.key,
    });
    expect(admin.status).toBe(200);
    expect(admin.json).toMatchObject({ vehicleId: issued.vehicleId, gear: { value: 'D' } });
    client.close();
  });

  it('works with a P-256 device key', async () => {
    const { client, signer } = await device('P-256');
    const receipt = await send(client, [await signer.sign({ kind: 'speed', kmh: 10 })]);
    expect(receipt.accepted).toBe(1);
    client.close();
  });

  it('reports duplicates, accepts out-of-order numbers once, refuses numbers below the window, and flags a jump', async () => {
    const { client, signer } = await device();
    const m = [];
    for (let i = 0; i < 3; i++) m.push(await signer.sign({ kind: 'speed', kmh: i }));
    // Out of order: 3 then 1, 2; then all three again.
    expect(reasons(await send(client, [m[2]!, m[0]!]))).toEqual(['accepted', 'accepted']);
    expect(reasons(await send(client, [m[1]!, m[0]!, m[1]!, m[2]!]))).toEqual([
      'accepted',
      'duplicate',
      'duplicate',
      'duplicate',
    ]);
    const { issued, key } = client.credentials!;
    const at = (seq: number): TelemetryMessage => ({
      deviceId: issued.deviceId,
      vehicleId: issued.vehicleId,
      bootId: signer.bootId,
      seq,
      ts: now(),
      swVersion: '4.2.0',
      configId: 'cfg-1',
      payload: { kind: 'speed', kmh: 5 },
    });
    const jump = await send(client, [signMessage(at(3 + 20_000), key.privateKeyPem)]);
    expect(jump.verdicts[0]).toMatchObject({ verdict: 'accepted', flags: ['sequence_jump'] });
    const [alert] = await cp.platform.audit.list({ type: 'telemetry.alert', actorId: issued.deviceId });
    expect(alert).toMatchObject({ decision: 'info', reason: 'sequence_jump' });
    const old = await send(client, [
      signMessage(at(4), key.privateKeyPem),
      signMessage(at(3 + 20_000 - 1023), key.privateKeyPem),
    ]);
    expect(old.verdicts).toMatchObject([
      { verdict: 'rejected', reason: 'sequence_too_old', seq: 4 },
      { verdict: 'accepted' },
    ]);
    client.close();
  });

  it('does not reopen replays after a restart', async () => {
    const { client, signer } = await device();
    const batch = [await signer.sign({ kind: 'gear', gear: 'P' }), await signer.sign({ kind: 'gear', gear: 'R' })];
    expect((await send(client, batch)).accepted).toBe(2);
    await cp.restart();
    client.close();
    const again = await send(client, batch);
    expect(reasons(again)).toEqual(['duplicate', 'duplicate']);
    expect(await stored(client.credentials!.issued.deviceId)).toHaveLength(2);
    expect((await send(client, [await signer.sign({ kind: 'gear', gear: 'N' })])).accepted).toBe(1);
    client.close();
  });

  it(
    'rejects forged, foreign, skewed, malformed, oversized and implausible messages, stores the good ones, and ' +
      'audits per batch',
    async () => {
      const { client, signer } = await device();
      const other = await device();
      const { issued, key } = client.credentials!;
      const base = (seq: number, over: Partial<TelemetryMessage> = {}): TelemetryMessage => ({
        deviceId: issued.deviceId,
        vehicleId: issued.vehicleId,
        bootId: signer.bootId,
        seq,
        ts: now(),
        swVersion: '4.2.0',
        configId: 'cfg-1',
        payload: { kind: 'speed', kmh: 50 },
        ...over,
      });
      const good = signMessage(base(1), key.privateKeyPem);
      const stranger = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      const otherIds = other.client.credentials!.issued;
      const nonCanonical = JSON.stringify(base(9), null, 1);
      const { sign } = await import('node:crypto');
      const signRaw = (text: string) => ({
        signed: text,
        sig: sign(null, Buffer.from(text), key.privateKeyPem).toString('base64url'),
      });
      const batch = [
        good,
        { ...signMessage(base(2), key.privateKeyPem), sig: signMessage(base(3), key.privateKeyPem).sig },
        signMessage(base(4), stranger),
        // A valid signature by another vehicle's device over its own message: not this certificate's key.
        wire(await other.signer.sign({ kind: 'speed', kmh: 1 })),
        // This device claims to be another device, or its device on another vehicle: identity mismatch.
        signMessage(base(5, { deviceId: otherIds.deviceId }), key.privateKeyPem),
        signMessage(base(6, { vehicleId: otherIds.vehicleId }), key.privateKeyPem),
        signMessage(base(7, { ts: now() + 61_000 }), key.privateKeyPem),
        signMessage(base(8, { ts: now() - 61_000 }), key.privateKeyPem),
        signRaw(nonCanonical),
        signMessage({ ...base(10), payload: { kind: 'teleport' } as never }, key.privateKeyPem),
        signMessage({ ...base(11), extra: 1 } as never, key.privateKeyPem),
        signMessage(base(12, { payload: { kind: 'position', lat: 91, lon: 0 } }), key.privateKeyPem),
        { signed: 'x'.repeat(5000), sig: good.sig },
        { signed: good.signed },
        signMessage(base(13, { payload: { kind: 'speed', kmh: 301 } }), key.privateKeyPem),
        signMessage(base(14, { payload: { kind: 'odometer', km: 1000 } }), key.privateKeyPem),
        signMessage(base(15, { ts: now() + 1000, payload: { kind: 'odometer', km: 999 } }), key.privateKeyPem),
      ];
      const res = await postRaw(cp, client, { messages: batch });
      expect(res.status).toBe(200);
      const receipt = res.json as TelemetryReceipt;
      expect(reasons(receipt)).toEqual([
        'accepted',
        'bad_signature',
        'bad_signature',
        'bad_signature',
        'identity_mismatch',
        'identity_mismatch',
        'timestamp_skew',
        'timestamp_skew',
        'invalid_schema',
        'invalid_schema',
        'invalid_schema',
        'invalid_schema',
        'too_large',
        'invalid_schema',
        'speed_out_of_bounds',
        'accepted',
        'odometer_decreased',
      ]);
      expect(receipt.verdicts[8]?.detail).toMatch(/canonical/);
      expect(receipt).toMatchObject({ accepted: 2, rejected: 15 });
      const rows = await stored(issued.deviceId);
      expect(rows.filter((r) => r.verdict === 'accepted').map((r) => r.seq)).toEqual([1, 14]);
      // Rejected messages are kept as evidence when they arrived whole; oversize and broken envelopes are not.
      expect(rows.filter((r) => r.verdict === 'rejected')).toHaveLength(13);
      const [event] = await cp.platform.audit.list({ type: 'telemetry.batch.rejected', actorId: issued.deviceId });
      expect(event).toMatchObject({ decision: 'deny', object: { type: 'vehicle', id: issued.vehicleId } });
      expect(event?.details.reasons).toEqual(
        expect.arrayContaining([
          'bad_signature:3',
          'identity_mismatch:2',
          'timestamp_skew:2',
          'invalid_schema:5',
          'too_large:1',
          'speed_out_of_bounds:1',
          'odometer_decreased:1',
        ]),
      );
      expect(await cp.platform.telemetry.vehicleState(issued.vehicleId)).toMatchObject({
        odometerKm: { value: 1000 },
        speedKmh: { value: 50 },
      });
      client.close();
      other.client.close();
    },
  );

  it('takes recorded messages through the flagged backfill path, and state never moves backwards', async () => {
    const { client, signer } = await device();
    const hourAgo = now() - 3_600_000;
    expect(reasons(await send(client, [await signer.sign({ kind: 'speed', kmh: 30 })]))).toEqual(['accepted']);
    const late = await signer.sign({ kind: 'speed', kmh: 99 }, { ts: hourAgo });
    expect(reasons(await send(client, [late]))).toEqual(['timestamp_skew']);
    const late2 = await signer.sign({ kind: 'speed', kmh: 98 }, { ts: hourAgo });
    const tooOld = await signer.sign({ kind: 'speed', kmh: 97 }, { ts: now() - 8 * 86_400_000 });
    const back = await send(client, [late2, tooOld], true);
    expect(back.verdicts).toMatchObject([
      { verdict: 'accepted', flags: ['backfill'] },
      { verdict: 'rejected', reason: 'timestamp_skew' },
    ]);
    const { issued } = client.credentials!;
    expect(await cp.platform.telemetry.vehicleState(issued.vehicleId)).toMatchObject({
      speedKmh: { value: 30, at: new Date(START).toISOString() },
    });
    expect((await stored(issued.deviceId)).find((r) => r.seq === late2.message.seq)).toMatchObject({
      backfill: 1,
      flags: 'backfill',
    });
    client.close();
  });

  it('flags an odometer that grows faster than the vehicle can drive, and keeps it out of the state', async () => {
    const { client, signer } = await device();
    const t = now();
    expect(reasons(await send(client, [await signer.sign({ kind: 'odometer', km: 1000 }, { ts: t - 2000 })]))).toEqual([
      'accepted',
    ]);
    const poisoned = await send(client, [await signer.sign({ kind: 'odometer', km: 10_000_000 }, { ts: t - 1000 })]);
    expect(poisoned.verdicts[0]).toMatchObject({ verdict: 'accepted', flags: ['odometer_jump'] });
    expect(reasons(await send(client, [await signer.sign({ kind: 'odometer', km: 1000.5 }, { ts: t })]))).toEqual([
      'accepted',
    ]);
    expect((await cp.platform.telemetry.vehicleState(client.credentials!.issued.vehicleId))?.odometerKm?.value).toBe(
      1000.5,
    );
    expect(
      await cp.platform.audit.list({ type: 'telemetry.alert', actorId: client.credentials!.issued.deviceId }),
    ).not.toHaveLength(0);
    client.close();
  });

  it('does not let a reading dated into the future outrank the honest readings after it', async () => {
    const { client, signer } = await device();
    const t = now();
    expect(
      reasons(await send(client, [await signer.sign({ kind: 'gear', gear: 'R' }, { ts: t + 59_000 })], true)),
    ).toEqual(['accepted']);
    expect(reasons(await send(client, [await signer.sign({ kind: 'gear', gear: 'P' }, { ts: t })]))).toEqual([
      'accepted',
    ]);
    expect((await cp.platform.telemetry.vehicleState(client.credentials!.issued.vehicleId))?.gear?.value).toBe('P');
    client.close();
  });

  it('flags a position jump faster than the vehicle could travel', async () => {
    const { client, signer } = await device();
    const r = await send(client, [
      await signer.sign({ kind: 'position', lat: 48.1374, lon: 11.5755 }),
      await signer.sign({ kind: 'position', lat: 48.1375, lon: 11.5756 }, { ts: now() + 1000 }),
      await signer.sign({ kind: 'position', lat: 52.52, lon: 13.405 }, { ts: now() + 2000 }),
    ]);
    expect(r.verdicts.map((v) => v.flags ?? [])).toEqual([[], [], ['position_jump']]);
    client.close();
  });

  it("refuses a user token, a command token, another device's token and no token with 401", async () => {
    const { client, signer } = await device();
    const body = { messages: [wire(await signer.sign({ kind: 'speed', kmh: 1 }))] };
    const owner = await CarapaceClient.create({
      baseUrl: cp.config.publicBaseUrl,
      ca: cp.ca,
      clientId: 'carapace-owner-app',
      redirectUri: 'http://127.0.0.1/callback',
    });
    await owner.login({
      email: 'dana@example.com',
      password: 'demo-dana-password',
      scopes: ['openid', 'vehicle:read_status'],
    });
    const other = await device();
    const { deviceToken } = await import('../src/client/index.js');
    const { issued, key } = client.credentials!;
    const commands = await deviceToken({
      gatewayUrl: cp.addresses.gateway,
      ca: cp.ca,
      cert: issued.certificate,
      key: key.privateKeyPem,
      deviceId: issued.deviceId,
      resource: 'urn:carapace:commands',
    });
    for (const token of [owner.tokens!.accessToken, commands.accessToken, await other.client.telemetryToken(), null]) {
      const res = await postRaw(cp, client, body, { token });
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({ code: 'ERR_TOKEN_INVALID', type: 'urn:carapace:problem:token-invalid' });
    }
    expect(await stored(issued.deviceId)).toHaveLength(0);
    const refusals = await cp.platform.audit.list({ type: 'auth.token.refused' });
    expect(refusals.some((e) => e.action === 'POST /v1/telemetry')).toBe(true);
    client.close();
    other.client.close();
  });

  it('refuses malformed batches whole with problem+json', async () => {
    const { client } = await device();
    const cases: Array<[unknown, number, string]> = [
      [{ messages: [] }, 400, 'ERR_VALIDATION'],
      [{ messages: [], extra: true }, 400, 'ERR_VALIDATION'],
      ['{"messages": [', 400, 'ERR_BAD_REQUEST'],
      [{ messages: Array(501).fill({ signed: 'x', sig: 'y' }) }, 413, 'ERR_PAYLOAD_TOO_LARGE'],
      [{ messages: [{ signed: 'x'.repeat(1024 * 1024), sig: 'y' }] }, 413, 'ERR_PAYLOAD_TOO_LARGE'],
    ];
    for (const [body, status, code] of cases) {
      const res = await postRaw(cp, client, body);
      expect(res.status, code).toBe(status);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.json).toMatchObject({ code });
    }
    // Whole-batch refusals are audited with the presenting device, one event per reason and minute.
    const refused = await cp.platform.audit.list({
      type: 'telemetry.batch.refused',
      actorId: client.credentials!.issued.deviceId,
    });
    expect(refused.map((e) => e.reason).sort()).toEqual(['ERR_BAD_REQUEST', 'ERR_PAYLOAD_TOO_LARGE', 'ERR_VALIDATION']);
    // A device looping on garbage adds no audit rows; the next event says how many refusals it stands for.
    for (let i = 0; i < 30; i++) expect((await postRaw(cp, client, '{"messages": [')).status).toBe(400);
    expect(
      await cp.platform.audit.list({ type: 'telemetry.batch.refused', actorId: client.credentials!.issued.deviceId }),
    ).toHaveLength(3);
    client.close();
  });

  it(
    'quarantines a device after repeated bad signatures or identity mismatches, refuses it, and releases it on an ' +
      'admin decision',
    async () => {
      const { client, signer } = await device();
      const { issued, key } = client.credentials!;
      const forged = (seq: number) => ({
        ...signMessage(
          {
            deviceId: issued.deviceId,
            vehicleId: issued.vehicleId,
            bootId: signer.bootId,
            seq,
            ts: now(),
            swVersion: '4.2.0',
            configId: 'cfg-1',
            payload: { kind: 'speed', kmh: 1 },
          },
          key.privateKeyPem,
        ),
        sig: 'A'.repeat(86),
      });
      const claimsOther = signMessage(
        {
          deviceId: issued.deviceId,
          vehicleId: '00000000-0000-4000-8000-000000000000',
          bootId: signer.bootId,
          seq: 900,
          ts: now(),
          swVersion: '4.2.0',
          configId: 'cfg-1',
          payload: { kind: 'speed', kmh: 1 },
        },
        key.privateKeyPem,
      );
      expect(reasons(await send(client, [forged(100), forged(101), forged(102), forged(103), claimsOther]))).toEqual([
        'bad_signature',
        'bad_signature',
        'bad_signature',
        'bad_signature',
        'identity_mismatch',
      ]);
      expect(await cp.platform.telemetry.quarantine.isQuarantined(issued.deviceId)).toBe(false);
      const good = await signer.sign({ kind: 'speed', kmh: 2 });
      const after = await signer.sign({ kind: 'speed', kmh: 3 });
      const tipping = await send(client, [
        good,
        forged(104),
        forged(105),
        forged(106),
        forged(107),
        forged(108),
        after,
      ]);
      // The tenth strike quarantines the device: what came before stays accepted, what follows is refused.
      expect(reasons(tipping)).toEqual([
        'accepted',
        'bad_signature',
        'bad_signature',
        'bad_signature',
        'bad_signature',
        'bad_signature',
        'quarantined',
      ]);
      expect(await cp.platform.telemetry.quarantine.isQuarantined(issued.deviceId)).toBe(true);
      const [event] = await cp.platform.audit.list({ type: 'telemetry.device.quarantined', objectId: issued.deviceId });
      // The reason names the strikes of the batch that tipped it; the count covers the whole window.
      expect(event).toMatchObject({
        decision: 'deny',
        reason: 'bad_signature',
        details: { strikes: 10, serial: issued.serial },
      });
      // Telemetry (and every other gateway route) is refused now, on a new connection too.
      client.close();
      const refused = await postRaw(cp, client, { messages: [wire(after)] });
      expect(refused.status).toBe(403);
      expect(refused.json).toMatchObject({ code: 'ERR_DEVICE_NOT_ACTIVE', reason: 'device_quarantined' });

      const admin = (method: string, path: string, body?: unknown) =>
        request(`${cp.addresses.admin}${path}`, {
          method,
          ca: cp.ca,
          cert: cp.operatorTls.cert,
          key: cp.operatorTls.key,
          ...(body === undefined
            ? {}
            : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
        });
      const listed = await admin('GET', '/admin/v1/telemetry/quarantines');
      expect(
        (listed.json as { quarantines: Array<{ deviceId: string }> }).quarantines.map((q) => q.deviceId),
      ).toContain(issued.deviceId);
      const released = await admin('POST', `/admin/v1/telemetry/quarantines/${issued.deviceId}/release`, {
        reason: 'firmware fixed, ticket SEC-12',
      });
      expect(released.status).toBe(200);
      expect(released.json).toEqual({ deviceId: issued.deviceId, status: 'active' });
      expect(await cp.platform.telemetry.quarantine.isQuarantined(issued.deviceId)).toBe(false);
      const [release] = await cp.platform.audit.list({
        type: 'telemetry.quarantine.released',
        objectId: issued.deviceId,
      });
      expect(release).toMatchObject({
        actor: { type: 'operator', id: 'admin' },
        decision: 'allow',
        reason: 'firmware fixed, ticket SEC-12',
      });
      // A release of a device that is not quarantined is refused and audited.
      const again = await admin('POST', `/admin/v1/telemetry/quarantines/${issued.deviceId}/release`, {
        reason: 'again',
      });
      expect(again.status).toBe(409);
      expect(
        await cp.platform.audit.list({ type: 'telemetry.quarantine.release_refused', objectId: issued.deviceId }),
      ).toHaveLength(1);
      // Released with a clean strike count: the message refused during quarantine is accepted now.
      expect(reasons(await send(client, [after]))).toEqual(['accepted']);
      client.close();
    },
  );

  it('lists and releases quarantines, and prints vehicle state, from the CLI', async () => {
    const { client, signer } = await device();
    const { issued, key } = client.credentials!;
    await send(client, [await signer.sign({ kind: 'gear', gear: 'P' })]);
    const forged = Array.from({ length: 10 }, (_, i) => ({
      ...signMessage(
        {
          deviceId: issued.deviceId,
          vehicleId: issued.vehicleId,
          bootId: signer.bootId,
          seq: 50 + i,
          ts: now(),
          swVersion: '4.2.0',
          configId: 'cfg-1',
          payload: { kind: 'speed', kmh: 1 },
        },
        key.privateKeyPem,
      ),
      sig: 'B'.repeat(86),
    }));
    await send(client, forged);
    client.close();
    const env = {
      ...process.env,
      CARAPACE_DATA_DIR: cp.config.dataDir,
      CARAPACE_LOG_LEVEL: 'warn',
      DATABASE_URL: cp.config.database.url ?? '',
      CARAPACE_DATABASE_SCHEMA: cp.config.database.schema,
      REDIS_URL: '',
    };
    const cli = async (...args: string[]) =>
      JSON.parse((await run('node', [...CLI, 'telemetry', ...args], { env, timeout: 60_000 })).stdout) as unknown;
    expect(await cli('quarantines', '--device', issued.deviceId)).toMatchObject([
      { deviceId: issued.deviceId, strikes: 10, releasedAt: null },
    ]);
    expect(await cli('release', '--device', issued.deviceId, '--reason', 'reflashed')).toEqual({
      deviceId: issued.deviceId,
      status: 'active',
    });
    expect(await cp.platform.telemetry.quarantine.isQuarantined(issued.deviceId)).toBe(false);
    expect(await cli('quarantines', '--device', issued.deviceId)).toEqual([]);
    expect(await cli('state', '--vehicle', issued.vehicleId)).toMatchObject({
      vehicleId: issued.vehicleId,
      gear: { value: 'P' },
    });
    const [release] = await cp.platform.audit.list({
      type: 'telemetry.quarantine.released',
      objectId: issued.deviceId,
    });
    expect(release?.actor.id).toMatch(/^cli:/);
  });

  it('takes CBOR batches through the same checks, storing the same raw bytes', async () => {
    const { client, signer } = await device();
    const good = await signer.sign({ kind: 'gear', gear: 'R' });
    const forged = await signer.sign({ kind: 'gear', gear: 'D' });
    const receipt = await client.sendTelemetry(
      [good, { signed: forged.signed.replace('"D"', '"N"'), sig: forged.sig }],
      { encoding: 'cbor' },
    );
    expect(reasons(receipt)).toEqual(['accepted', 'bad_signature']);
    const row = (await stored(client.credentials!.issued.deviceId)).find((r) => r.verdict === 'accepted');
    expect(Buffer.from(row!.signed_bytes).toString('utf8')).toBe(good.signed);
    expect(row?.signature).toBe(good.sig);
    expect(reasons(await client.sendTelemetry([good], { encoding: 'cbor' }))).toEqual(['duplicate']);
    const { encode } = await import('cbor2');
    const raw = async (body: Uint8Array, path = '/v1/telemetry') => {
      const { key, issued } = client.credentials!;
      return request(`${cp.addresses.gateway}${path}`, {
        method: 'POST',
        ca: cp.ca,
        cert: issued.certificate,
        key: key.privateKeyPem,
        body,
        headers: { 'content-type': 'application/cbor', authorization: `Bearer ${await client.telemetryToken()}` },
      });
    };
    expect((await raw(new Uint8Array([0xff]))).json).toMatchObject({ code: 'ERR_BAD_REQUEST' });
    expect((await raw(encode({ messages: [], extra: 1 }))).json).toMatchObject({ code: 'ERR_VALIDATION' });
    const odd = await raw(
      encode({
        messages: [
          { signed: new TextEncoder().encode('{}'), sig: new Uint8Array(64) },
          { signed: new Uint8Array([0xc3, 0x28]), sig: new Uint8Array(64) },
          42,
        ],
      }),
    );
    expect((odd.json as TelemetryReceipt).verdicts.map((v) => v.reason)).toEqual([
      'bad_signature',
      'invalid_schema',
      'invalid_schema',
    ]);
    // Only the telemetry routes take CBOR.
    expect((await raw(encode({ csr: 'x' }), '/v1/enrollments')).status).toBe(403);
    const { key, issued } = client.credentials!;
    const rotate = await request(`${cp.addresses.gateway}/v1/devices/${issued.deviceId}/certificates`, {
      method: 'POST',
      ca: cp.ca,
      cert: issued.certificate,
      key: key.privateKeyPem,
      body: encode({ csr: 'x' }),
      headers: { 'content-type': 'application/cbor' },
    });
    expect(rotate.json).toMatchObject({ status: 415, code: 'ERR_UNSUPPORTED_MEDIA_TYPE' });
    client.close();
  });

  it('keeps the message store append-only', async () => {
    const { client, signer } = await device();
    await send(client, [await signer.sign({ kind: 'speed', kmh: 1 })]);
    const db = cp.platform.storage.db;
    await expect(sql`UPDATE telemetry_messages SET verdict = 'rejected'`.execute(db)).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM telemetry_messages`.execute(db)).rejects.toThrow(/append-only/);
    client.close();
  });

  // Last: it moves the shared clock forward.
  it('accepts a backlog recorded before a certificate rotation, and refuses the old key once it was replaced', async () => {
    const { client, signer } = await device();
    const oldSerial = client.credentials!.issued.serial;
    const oldKey = client.credentials!.key.privateKeyPem;
    const offline = [
      await signer.sign({ kind: 'speed', kmh: 1 }),
      await signer.sign({ kind: 'speed', kmh: 2 }),
      await signer.sign({ kind: 'speed', kmh: 3 }),
    ];
    expect(reasons(await send(client, [await signer.sign({ kind: 'gear', gear: 'P' })]))).toEqual(['accepted']);
    await client.rotate();
    signer.useKey(client.credentials!.key.privateKeyPem);
    expect(reasons(await send(client, offline, true))).toEqual(['accepted', 'accepted', 'accepted']);
    expect(reasons(await send(client, [await signer.sign({ kind: 'speed', kmh: 4 })]))).toEqual(['accepted']);
    const rows = await stored(client.credentials!.issued.deviceId);
    // Provenance names the certificate whose key verified each message.
    expect(rows.filter((r) => r.seq !== null && r.seq >= 1 && r.seq <= 3).map((r) => r.cert_serial)).toEqual([
      oldSerial,
      oldSerial,
      oldSerial,
    ]);
    expect(rows.at(-1)?.cert_serial).toBe(client.credentials!.issued.serial);
    // A message the old key signs well after its certificate was replaced is not the device's.
    clock.advance(5 * 60_000);
    const { issued } = client.credentials!;
    const stale = new TelemetrySigner({
      identity: { deviceId: issued.deviceId, vehicleId: issued.vehicleId, swVersion: '4.2.0', configId: 'cfg-1' },
      privateKeyPem: oldKey,
      sequences: new MemorySequenceStore(),
      now,
    });
    const late = await send(client, [await stale.sign({ kind: 'speed', kmh: 5 })]);
    expect(late.verdicts[0]).toMatchObject({
      verdict: 'rejected',
      reason: 'bad_signature',
      detail: 'signed with the key of a certificate that had already been replaced',
    });
    expect(await cp.platform.telemetry.quarantine.isQuarantined(client.credentials!.issued.deviceId)).toBe(false);
  });
});
