import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAuditLog } from '../src/audit/index.js';
import { loadConfig } from '../src/config/index.js';
import { systemClock } from '../src/platform/index.js';
import { createLogger } from '../src/platform/index.js';
import { createFileKeyProvider, importAuthority } from '../src/pki/index.js';
import { seedFromFile } from '../src/server/index.js';
import { DEMO_SCENARIO, startCarapace } from '../src/server/index.js';
import { openStorage } from '../src/storage/index.js';
import { migrateDatabase } from '../src/server/index.js';
import { dropTestDatabase, freePort, testDatabaseSettings, testEngines } from '../src/testing/index.js';
import { caCertificate, leafCertificate } from '../src/testing/index.js';
import { GatewayClient, httpsRequest } from '../src/vehicle-sdk/index.js';
import { fileURLToPath } from 'node:url';

/** Production mode as an operator would run it: imported CAs, their own server certificate, no demo. */
describe.each(testEngines())('production mode (%s)', (engine) => {
  it(
    'runs on imported CAs and an operator certificate, and a unit enrolls with a factory certificate issued at the ' +
      'factory',
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'carapace-prod-'));
      const database = testDatabaseSettings(engine);
      const root = await caCertificate({ name: 'CN=Example OEM Root', pathLength: 1 });
      const fleet = await caCertificate({ name: 'CN=Example OEM Fleet CA', parent: root });
      const maker = await caCertificate({ name: 'CN=Example TCU Maker CA' });
      const server = await leafCertificate({
        issuer: root,
        subject: 'CN=carapace.example',
        server: ['localhost', '127.0.0.1'],
      });
      writeFileSync(join(dataDir, 'server.pem'), server.pem);
      writeFileSync(join(dataDir, 'server-key.pem'), server.key.pem, { mode: 0o600 });

      // `carapace pki import`, three times: the manufacturer's key stays at the factory.
      const storage = await openStorage({ ...database, dataDir });
      await migrateDatabase(storage.db, { schema: storage.schema });
      const deps = {
        db: storage.db,
        keys: createFileKeyProvider(join(dataDir, 'pki')),
        clock: systemClock,
        audit: createAuditLog({ db: storage.db, clock: systemClock }),
      };
      await importAuthority(deps, 'root', root.cert.toString('pem'), root.key.pem);
      await importAuthority(deps, 'fleet', fleet.cert.toString('pem'), fleet.key.pem);
      await importAuthority(deps, 'manufacturer', maker.cert.toString('pem'), null);
      await storage.close();

      const [pub, gw, adm] = [await freePort(), await freePort(), await freePort()];
      const config = loadConfig({
        overrides: {
          mode: 'production',
          dataDir,
          database,
          publicBaseUrl: `https://localhost:${pub}`,
          log: { level: 'silent' },
          tls: { certFile: join(dataDir, 'server.pem'), keyFile: join(dataDir, 'server-key.pem') },
          listeners: {
            public: { host: '127.0.0.1', port: pub },
            gateway: { host: '127.0.0.1', port: gw },
            admin: { host: '127.0.0.1', port: adm },
          },
        },
      });
      const running = await startCarapace(config, { log: createLogger('silent') });
      try {
        const ca = root.cert.toString('pem');
        expect(running.operator).toBeNull();
        expect(running.seeded).toBeNull();
        expect((await httpsRequest(`https://localhost:${pub}/readyz`, { ca })).json).toMatchObject({ status: 'ready' });
        await expect(seedFromFile(running.platform, fileURLToPath(DEMO_SCENARIO))).rejects.toMatchObject({
          code: 'ERR_FORBIDDEN',
        });
        // Carapace cannot mint factory certificates without the manufacturer's key…
        await expect(
          running.platform.pki.issueFactoryCertificate({
            tcuSerial: 'TCU-PROD-1',
            csrPem: null,
            binding: null,
            actor: { type: 'operator', id: 'ops' },
          }),
        ).rejects.toMatchObject({ code: 'ERR_PKI_CA_MISSING' });
        // …so the unit is registered from the manufacturing feed, and its certificate comes from the factory.
        const device = await running.platform.pki.provisionDevice({
          tcuSerial: 'TCU-PROD-1',
          binding: { vin: '5YJ3E1EA7KF000777' },
          actor: { type: 'operator', id: 'ops' },
        });
        const factory = await leafCertificate({
          issuer: maker,
          subject: 'CN=TCU-PROD-1, 2.5.4.5=TCU-PROD-1',
          clientAuth: true,
        });
        const client = new GatewayClient({ gatewayUrl: `https://localhost:${gw}`, ca });
        const { issued } = await client.enroll({ cert: factory.pem, key: factory.key.pem });
        expect(issued.deviceId).toBe(device.id);
        const fleetNode = new X509Certificate(fleet.cert.toString('pem'));
        expect(new X509Certificate(issued.certificate).verify(fleetNode.publicKey)).toBe(true);
        const fingerprints = (pems: string[]) => pems.map((p) => new X509Certificate(p).fingerprint256);
        expect(fingerprints(issued.chain)).toEqual(
          fingerprints([fleet.cert.toString('pem'), root.cert.toString('pem')]),
        );
        expect((await client.self()).status).toBe('active');
        client.close();
      } finally {
        await running.close();
        await dropTestDatabase(database);
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  );
});
