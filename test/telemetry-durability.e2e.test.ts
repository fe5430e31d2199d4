import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openStorage } from '../src/storage/index.js';
import { freePort, testEngines } from '../src/testing/index.js';
import { GatewayClient, MemorySequenceStore, TelemetrySigner } from '../src/vehicle-sdk/index.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli/main.ts')];

/** A real `carapace serve` process on its own ports and data. */
async function serve(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn('node', [...CLI, 'serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 60_000);
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('Carapace is running.')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
  return child;
}

describe.each(testEngines())('telemetry durability on %s', (engine) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'carapace-kill-'));
  const schema = `kill_${process.pid}_${Date.now().toString(36)}`;
  const url = engine === 'postgres' ? (process.env.DATABASE_URL as string) : null;
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    if (url) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => c.end());
    }
  });

  it('loses nothing acknowledged when the server is killed with SIGKILL right after answering', async () => {
    const [pub, gw, adm] = [await freePort(), await freePort(), await freePort()];
    const env = {
      ...process.env,
      CARAPACE_DATA_DIR: dataDir,
      CARAPACE_LOG_LEVEL: 'warn',
      CARAPACE_SEED_DEMO: 'false',
      REDIS_URL: '',
      DATABASE_URL: url ?? '',
      CARAPACE_DATABASE_SCHEMA: schema,
      CARAPACE_PUBLIC_BASE_URL: `https://localhost:${pub}`,
      CARAPACE_PUBLIC_HOST: '127.0.0.1',
      CARAPACE_PUBLIC_PORT: String(pub),
      CARAPACE_GATEWAY_HOST: '127.0.0.1',
      CARAPACE_GATEWAY_PORT: String(gw),
      CARAPACE_ADMIN_HOST: '127.0.0.1',
      CARAPACE_ADMIN_PORT: String(adm),
    };
    let server = await serve(env);
    try {
      const unitDir = join(dataDir, 'unit');
      const made = await run(
        'node',
        [...CLI, 'pki', 'factory-cert', '--serial', `TCU-KILL-${engine}`, '--out', unitDir],
        { env },
      );
      expect(JSON.parse(made.stdout)).toMatchObject({ status: 'provisioned' });
      const ca = readFileSync(join(dataDir, 'pki', 'ca.pem'), 'utf8');
      const device = new GatewayClient({ gatewayUrl: `https://localhost:${gw}`, ca });
      const { key, issued } = await device.enroll({
        cert: readFileSync(join(unitDir, 'factory-cert.pem'), 'utf8'),
        key: readFileSync(join(unitDir, 'factory-key.pem'), 'utf8'),
      });
      const signer = new TelemetrySigner({
        identity: { deviceId: issued.deviceId, vehicleId: issued.vehicleId, swVersion: '1.0.0', configId: 'c1' },
        privateKeyPem: key.privateKeyPem,
        sequences: new MemorySequenceStore(),
      });
      const batch = [];
      for (let i = 0; i < 200; i++) batch.push(await signer.sign({ kind: 'odometer', km: 1000 + i }));
      const wire = batch.map(({ signed, sig }) => ({ signed, sig }));

      const receipt = await device.sendTelemetry(wire);
      // The instant the acknowledgement is in, the process dies without any chance to flush or close.
      server.kill('SIGKILL');
      await new Promise((r) => server.once('exit', r));
      device.close();
      expect(receipt.accepted).toBe(200);

      const storage = await openStorage({ url, schema, dataDir });
      try {
        const rows = await storage.db
          .selectFrom('telemetry_messages')
          .select(['seq', 'verdict'])
          .where('device_id', '=', issued.deviceId)
          .execute();
        expect(rows.filter((r) => r.verdict === 'accepted')).toHaveLength(200);
        const state = await storage.db
          .selectFrom('vehicle_state')
          .selectAll()
          .where('vehicle_id', '=', issued.vehicleId)
          .executeTakeFirstOrThrow();
        expect(state.odometer_km).toBe(1199);
      } finally {
        await storage.close();
      }

      // After the restart the window is where it was: the whole batch again is 200 duplicates.
      server = await serve(env);
      const again = await device.sendTelemetry(wire);
      expect(again).toMatchObject({ accepted: 0, duplicates: 200 });
      device.close();
    } finally {
      server.kill('SIGKILL');
    }
  }, 120_000);
});
