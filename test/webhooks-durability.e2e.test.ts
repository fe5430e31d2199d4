import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { CarapaceClient } from '../src/client/index.js';
import { currentTotp } from '../src/identity/index.js';
import { openStorage } from '../src/storage/index.js';
import { caCertificate, freePort, leafCertificate, testEngines } from '../src/testing/index.js';
import { startReceiver, until } from './webhooks-support.js';

const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli/main.ts')];

/** A real `carapace serve` process on its own ports and data. */
async function serve(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn('node', [...CLI, 'serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 90_000);
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

describe.each(testEngines())('webhook deliveries across a kill -9 (%s)', (engine) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'carapace-wh-kill-'));
  const schema = `whkill_${process.pid}_${Date.now().toString(36)}`;
  const url = engine === 'postgres' ? (process.env.DATABASE_URL as string) : null;
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    if (url) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => c.end());
    }
  });

  it('delivers every event at least once when the server is killed with SIGKILL mid-delivery', async () => {
    const ca = await caCertificate({ name: 'CN=Receiver CA' });
    const leaf = await leafCertificate({ issuer: ca, subject: 'CN=127.0.0.1', server: ['127.0.0.1'] });
    writeFileSync(join(dataDir, 'receiver-ca.pem'), ca.cert.toString('pem'));
    const receiver = await startReceiver({ cert: leaf.pem, key: leaf.key.pem });
    const [pub, gw, adm] = [await freePort(), await freePort(), await freePort()];
    const env = {
      ...process.env,
      CARAPACE_DATA_DIR: dataDir,
      CARAPACE_LOG_LEVEL: 'warn',
      CARAPACE_SEED_DEMO: 'true',
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
      CARAPACE_DETECT_ENABLED: 'false',
      CARAPACE_AUDIT_CHECKPOINT_INTERVAL: '1',
      CARAPACE_WEBHOOKS_INTERVAL: '0.1',
      CARAPACE_WEBHOOKS_TIMEOUT: '5',
      CARAPACE_WEBHOOKS_LEASE_TTL: '6',
      // A loopback receiver stands for the endpoint: development only, and its CA trusted by configuration.
      CARAPACE_OUTBOUND_ALLOW_LOOPBACK_HTTP: 'true',
      CARAPACE_OUTBOUND_TRUSTED_CA_FILE: join(dataDir, 'receiver-ca.pem'),
    };
    let server = await serve(env);
    try {
      const base = `https://localhost:${pub}`;
      const serverCa = readFileSync(join(dataDir, 'pki', 'ca.pem'), 'utf8');
      const fiona = await CarapaceClient.create({
        baseUrl: base,
        ca: serverCa,
        clientId: 'carapace-fleet-console',
        redirectUri: 'http://127.0.0.1/callback',
      });
      await fiona.login({
        email: 'fiona@northwind.example',
        password: 'demo-fiona-password',
        scopes: ['openid', 'fleet:admin', 'fleet:command', 'vehicle:read_status'],
        totp: () => currentTotp('JBSWY3DPEHPK3PXPFIONA234', new Date()),
      });
      const vehicles = (await fiona.api('GET', '/v1/vehicles')).json as { vehicles: { id: string; vin: string }[] };
      const van = vehicles.vehicles.find((v) => v.vin === '1FTBW3XM5HKA00001')!.id;
      const tenant = ((await fiona.api('GET', '/v1/me')).json as { memberships: { tenantId: string }[] })
        .memberships[0]!.tenantId;
      // The receiver holds the first requests unanswered: the process dies with deliveries in flight.
      receiver.answer = () => 'hold';
      const created = await fiona.api('POST', `/v1/tenants/${tenant}/webhooks`, {
        url: `https://127.0.0.1:${new URL(receiver.url('/')).port}/kill`,
        eventTypes: ['command.job.state_changed'],
      });
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      const locks = 6;
      for (let i = 0; i < locks; i++)
        await fiona.api('POST', `/v1/vehicles/${van}/commands`, { command: 'lock' }, { 'idempotency-key': `k-${i}` });
      await until('a delivery in flight', () => receiver.held > 0, 1200);
      server.kill('SIGKILL');
      await new Promise((res) => server.once('exit', res));
      receiver.release(200);
      receiver.answer = () => 200;
      server = await serve(env);

      const storage = await openStorage({ url, schema, dataDir });
      try {
        const rows = await until(
          'every delivery delivered after the restart',
          async () => {
            const all = await storage.db.selectFrom('webhook_deliveries').select(['event_id', 'state']).execute();
            return all.length === locks * 2 && all.every((d) => d.state === 'delivered') ? all : null;
          },
          1800,
        );
        const got = new Set(receiver.received.map((r) => (JSON.parse(r.body) as { eventId: string }).eventId));
        for (const r of rows) expect(got.has(r.event_id)).toBe(true);
        const jobEvents = await storage.db
          .selectFrom('audit_events')
          .select('id')
          .where('type', 'in', ['commands.job.requested', 'commands.job.transitioned'])
          .execute();
        expect(jobEvents.map((e) => e.id).sort()).toEqual(rows.map((r) => r.event_id).sort());
      } finally {
        await storage.close();
      }
    } finally {
      server.kill('SIGKILL');
      await receiver.close();
    }
  }, 300_000);
});
