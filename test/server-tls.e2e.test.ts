import { X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  SubjectAlternativeNameExtension,
  X509CertificateGenerator,
} from '../src/platform/index.js';
import { startTestCarapace, testEngines } from '../src/testing/index.js';
import { foreignCa, testKey } from '../src/testing/index.js';

describe.each(testEngines())('operator-supplied server certificate (%s)', (database) => {
  it('is served on every listener instead of the development one', async () => {
    const ca = await foreignCa('CN=Operator Web PKI');
    const key = await testKey();
    const cert = await X509CertificateGenerator.create({
      serialNumber: '0badc0de',
      subject: 'CN=carapace.example',
      issuer: ca.cert.subject,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86400_000),
      publicKey: key.pair.publicKey,
      signingKey: ca.key.pair.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }]),
        new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth]),
      ],
    });
    const dir = mkdtempSync(join(tmpdir(), 'carapace-tls-'));
    writeFileSync(join(dir, 'cert.pem'), cert.toString('pem'));
    writeFileSync(join(dir, 'key.pem'), key.pem);
    const cp = await startTestCarapace({
      database,
      overrides: { tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') } },
    });
    try {
      for (const base of [cp.addresses.public, cp.addresses.gateway, cp.addresses.admin]) {
        const served = await new Promise<string>((resolve, reject) => {
          const s = connect({
            host: '127.0.0.1',
            port: Number(new URL(base).port),
            ca: ca.cert.toString('pem'),
            servername: 'localhost',
          });
          s.once('secureConnect', () => {
            resolve(new X509Certificate(s.getPeerX509Certificate()!.raw).subject);
            s.destroy();
          });
          s.once('error', reject);
        });
        expect(served).toBe('CN=carapace.example');
      }
      expect(cp.tls.source).toBe('operator');
    } finally {
      await cp.stop();
    }
  });
});
