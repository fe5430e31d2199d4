import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../audit/index.js';
import { loadConfig } from '../config/index.js';
import { FixedClock } from '../platform/index.js';
import { isCarapaceError } from '../platform/index.js';
import { createLogger } from '../platform/index.js';
import { x509 } from '../platform/index.js';
import { createPlatform } from '../server/index.js';
import { resolveServerTls } from '../server/index.js';
import { testDatabases } from '../testing/index.js';
import { foreignCa } from '../testing/index.js';
import { ensureAuthorities, importAuthority } from './authorities.js';
import { createFileKeyProvider } from './key-provider.js';

describe.each(testDatabases())('CA set on $name', (target) => {
  let storage: Awaited<ReturnType<typeof target.open>>;
  const clock = new FixedClock();

  beforeAll(async () => {
    storage = await target.open();
  });
  afterAll(async () => {
    await storage.close();
  });

  const deps = (dir: string) => ({
    db: storage.db,
    keys: createFileKeyProvider(dir),
    clock,
    audit: createAuditLog({ db: storage.db, clock }),
  });

  it('refuses to generate CAs when generation is not allowed (production)', async () => {
    const err = await ensureAuthorities({ ...deps(mkdtempSync(join(tmpdir(), 'k-'))), allowGenerate: false }).catch(
      (e: unknown) => e,
    );
    expect(isCarapaceError(err, 'ERR_PKI_CA_MISSING')).toBe(true);
    expect((err as Error).message).toContain('carapace pki import --role root');
  });

  it('imports a root and fleet CA after checking them, and refuses what does not fit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k-'));
    const d = deps(dir);
    const root = await foreignCa('CN=Imported Root');
    const fleet = await foreignCa('CN=Unrelated Fleet');
    // The fleet CA must come after the root and be signed by it.
    await expect(importAuthority(d, 'fleet', fleet.cert.toString('pem'), fleet.key.pem)).rejects.toMatchObject({
      code: 'ERR_PKI_CA_INVALID',
    });
    // A key that does not match the certificate is refused, and nothing is stored for it.
    await expect(importAuthority(d, 'root', root.cert.toString('pem'), fleet.key.pem)).rejects.toMatchObject({
      code: 'ERR_PKI_CA_INVALID',
    });
    expect(readdirSync(dir).filter((f) => f.startsWith('root'))).toEqual([]);
    await expect(importAuthority(d, 'root', 'not a pem', null)).rejects.toMatchObject({ code: 'ERR_PKI_CA_INVALID' });

    const imported = await importAuthority(d, 'root', root.cert.toString('pem'), root.key.pem);
    expect(imported.signingKey).not.toBeNull();
    await expect(importAuthority(d, 'root', root.cert.toString('pem'), root.key.pem)).rejects.toMatchObject({
      code: 'ERR_CONFLICT',
    });
    await expect(importAuthority(d, 'fleet', fleet.cert.toString('pem'), fleet.key.pem)).rejects.toMatchObject({
      code: 'ERR_PKI_CA_INVALID',
      message: expect.stringContaining('not signed by the stored root'),
    });
    const leafCert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=leaf',
      keys: root.key.pair,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    await expect(importAuthority(d, 'manufacturer', leafCert.toString('pem'), null)).rejects.toMatchObject({
      message: expect.stringContaining('not a CA'),
    });
    // A manufacturer CA may come without its key: the factory keeps it.
    const maker = await foreignCa('CN=Maker CA');
    expect((await importAuthority(d, 'manufacturer', maker.cert.toString('pem'), null)).signingKey).toBeNull();
    const events = await createAuditLog({ db: storage.db, clock }).list({ type: 'pki.ca.imported' });
    expect(events.map((e) => e.object?.id).sort()).toEqual(['manufacturer', 'root']);
  });
});

describe('production mode', () => {
  it('refuses generated CAs and development server certificates', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'carapace-prod-'));
    const config = loadConfig({ overrides: { mode: 'production', dataDir, log: { level: 'silent' } } });
    await expect(createPlatform(config, { log: createLogger('silent') })).rejects.toMatchObject({
      code: 'ERR_PKI_CA_MISSING',
    });

    const dev = await createPlatform(loadConfig({ overrides: { dataDir, log: { level: 'silent' } } }), {
      log: createLogger('silent'),
    });
    try {
      const prodConfig = loadConfig({ overrides: { mode: 'production', dataDir } });
      await expect(resolveServerTls(prodConfig, dev.pki)).rejects.toMatchObject({
        code: 'ERR_CONFIG_INVALID',
        message: expect.stringContaining('tls.certFile'),
      });
    } finally {
      await dev.close();
    }
  });
});
