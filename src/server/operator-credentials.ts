import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePrivateFile } from '../platform/index.js';
import { certificateThumbprint, findCertificateByThumbprint, type Pki } from '../pki/index.js';

/** Paths of an operator's certificate and key. */
export interface OperatorCredentialFiles {
  certFile: string;
  keyFile: string;
  created: boolean;
}

/**
 * Development convenience: an `admin` operator certificate under `<dataDir>/pki/operator`, so the admin plane
 * can be used at once. Never called in production mode.
 */
export async function ensureDevelopmentOperator(pki: Pki, dataDir: string): Promise<OperatorCredentialFiles> {
  const dir = join(dataDir, 'pki', 'operator');
  const certFile = join(dir, 'admin-cert.pem');
  const keyFile = join(dir, 'admin-key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cert = new X509Certificate(readFileSync(certFile));
    const stillValid = new Date(cert.validTo).getTime() > pki.ctx.clock.now().getTime() + 86400_000;
    // A certificate from an earlier database (or a revoked one) is replaced rather than reused.
    const row = await findCertificateByThumbprint(pki.ctx.db, certificateThumbprint(cert.raw));
    if (stillValid && row?.status === 'active') return { certFile, keyFile, created: false };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const issued = await pki.issueOperatorCertificate({
    name: 'admin',
    csrPem: null,
    actor: { type: 'system', id: null },
  });
  writePrivateFile(keyFile, issued.privateKeyPem ?? '');
  writeFileSync(certFile, issued.certificatePem, { mode: 0o644 });
  return { certFile, keyFile, created: true };
}
