import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePrivateFile } from '../platform/index.js';
import { certificateThumbprint, findCertificateByThumbprint, type Pki } from '../pki/index.js';
import type { OperatorDirectory } from '../operators/index.js';

/** Paths of an operator's certificate and key. */
export interface OperatorCredentialFiles {
  certFile: string;
  keyFile: string;
  created: boolean;
}

/**
 * Development convenience: an `admin` operator certificate under `<dataDir>/pki/operator`, bound to the
 * security_admin role, so the admin plane can be used at once. Never called in production mode.
 */
export async function ensureDevelopmentOperator(
  pki: Pki,
  dataDir: string,
  operators: Pick<OperatorDirectory, 'bindCertificate' | 'find'>,
): Promise<OperatorCredentialFiles> {
  const dir = join(dataDir, 'pki', 'operator');
  const certFile = join(dir, 'admin-cert.pem');
  const keyFile = join(dir, 'admin-key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cert = new X509Certificate(readFileSync(certFile));
    const stillValid = new Date(cert.validTo).getTime() > pki.ctx.clock.now().getTime() + 86400_000;
    // A certificate from an earlier database (or a revoked one) is replaced rather than reused.
    const row = await findCertificateByThumbprint(pki.ctx.db, certificateThumbprint(cert.raw));
    if (stillValid && row?.status === 'active') {
      // A data directory from before operator roles: its certificate gets its binding now.
      if (!(await operators.find('certificate_serial', row.serial)))
        await operators.bindCertificate(
          { type: 'system', id: null },
          { name: 'admin', serial: row.serial, role: 'security_admin' },
        );
      return { certFile, keyFile, created: false };
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const issued = await pki.issueOperatorCertificate({
    name: 'admin',
    csrPem: null,
    actor: { type: 'system', id: null },
  });
  writePrivateFile(keyFile, issued.privateKeyPem ?? '');
  writeFileSync(certFile, issued.certificatePem, { mode: 0o644 });
  await operators.bindCertificate(
    { type: 'system', id: null },
    { name: 'admin', serial: issued.serial, role: 'security_admin' },
  );
  return { certFile, keyFile, created: true };
}
