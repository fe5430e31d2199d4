import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../../src/client/index.js';
import { currentTotp } from '../../src/identity/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../../src/testing/index.js';
import { GatewayClient, MemorySequenceStore, TelemetrySigner, VehicleModel } from '../../src/vehicle-sdk/index.js';
import { eventually } from './waiting.js';

const FAULTS = 'CARAPACE_FAULT_POINTS';

describe.each(testEngines().slice(-1))(
  'an Idempotency-Key orphaned between two commits (issue 18 item 4, %s)',
  (database) => {
    let cp: TestCarapace;
    let alice: CarapaceClient;
    let carId = '';

    beforeAll(async () => {
      cp = await startTestCarapace({
        database,
        overrides: { seedDemo: true, detect: { enabled: false }, commands: { idempotencyReclaimAfter: 2 } },
      });
      const rows = await cp.platform.storage.db.selectFrom('vehicles').select(['id', 'vin']).execute();
      carId = rows.find((r) => r.vin === '5YJ3E1EA7KF000001')!.id;
      // The car reports its state, so a lock is queued for it rather than rejected for an unknown state.
      const dir = join(cp.config.dataDir, 'factory', 'TCU-DEMO-0001');
      const device = new GatewayClient({ gatewayUrl: cp.addresses.gateway, ca: cp.ca });
      const { issued, key } = await device.enroll({
        cert: readFileSync(join(dir, 'factory-cert.pem'), 'utf8'),
        key: readFileSync(join(dir, 'factory-key.pem'), 'utf8'),
      });
      const signer = new TelemetrySigner({
        identity: { deviceId: issued.deviceId, vehicleId: issued.vehicleId, swVersion: '1', configId: 'c' },
        privateKeyPem: key.privateKeyPem,
        sequences: new MemorySequenceStore(),
      });
      await device.sendTelemetry(await Promise.all(new VehicleModel().telemetry().map((p) => signer.sign(p))));
      device.close();
      alice = await CarapaceClient.create({
        baseUrl: cp.config.publicBaseUrl,
        ca: cp.ca,
        clientId: 'carapace-owner-app',
        redirectUri: 'http://127.0.0.1/callback',
      });
      await alice.login({
        email: 'alice@example.com',
        password: 'demo-alice-password',
        totp: () => currentTotp('JBSWY3DPEHPK3PXPALICE234', new Date()),
        scopes: ['openid', 'vehicle:read_status', 'vehicle:lock'],
      });
    }, 120_000);
    afterAll(async () => {
      delete process.env[FAULTS];
      await cp?.stop();
    });

    const reservations = async () =>
      (await cp.platform.storage.db.selectFrom('command_idempotency').select('result_id').execute()).length;
    const lock = () =>
      alice.api('POST', `/v1/vehicles/${carId}/commands`, { command: 'lock' }, { 'idempotency-key': 'k1' });

    it('the retry after a crash between the reservation and the job makes the job, once', async () => {
      const before = await reservations();
      process.env[FAULTS] = 'commands.after-reservation:hang';
      // The first request reserves the key and then stops for good, as a process killed at that point would.
      void lock().catch(() => undefined);
      try {
        expect(await eventually(async () => (await reservations()) > before, 10_000)).toBe(true);
      } finally {
        delete process.env[FAULTS];
      }
      const retry = await lock();
      expect(retry.json).not.toMatchObject({ code: 'ERR_CONFLICT' });
      expect(retry.status).toBe(202);
      const jobId = (retry.json as { id: string }).id;
      // The key now names that job: a second retry answers it again, and there is one job for the key.
      const again = await lock();
      expect((again.json as { id: string }).id).toBe(jobId);
      const jobs = await cp.platform.storage.db
        .selectFrom('command_jobs')
        .select('id')
        .where('command', '=', 'lock')
        .execute();
      expect(jobs.map((j) => j.id)).toEqual([jobId]);
    });
  },
);
