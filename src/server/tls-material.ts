import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { writePrivateFile } from '../platform/index.js';
import { CarapaceError } from '../platform/index.js';
import type { Pki } from '../pki/index.js';

/** The server certificate chain and key served by every listener. */
export interface ServerTls {
  cert: string;
  key: string;
  /** Where it came from, for the startup banner. */
  source: 'operator' | 'development';
  certFile: string;
}

const RENEW_BEFORE_MS = 7 * 86400_000;
const DEV_VALIDITY_DAYS = 90;

function needsNewDevCert(certFile: string, hostnames: string[], now: Date): boolean {
  if (!existsSync(certFile)) return true;
  const cert = new X509Certificate(readFileSync(certFile));
  if (new Date(cert.validTo).getTime() - now.getTime() < RENEW_BEFORE_MS) return true;
  const san = cert.subjectAltName ?? '';
  return !hostnames.every(
    (h) => san.includes(`DNS:${h}`) || san.includes(`IP Address:${h.toUpperCase()}`) || san.includes(`IP Address:${h}`),
  );
}

/**
 * The operator's certificate when configured; otherwise (development only) a certificate issued by the
 * development root CA, kept under `<dataDir>/pki` and renewed a week before it expires.
 */
export async function resolveServerTls(config: Config, pki: Pki): Promise<ServerTls> {
  if (config.tls.certFile && config.tls.keyFile) {
    try {
      return {
        cert: readFileSync(config.tls.certFile, 'utf8'),
        key: readFileSync(config.tls.keyFile, 'utf8'),
        source: 'operator',
        certFile: config.tls.certFile,
      };
    } catch (cause) {
      throw new CarapaceError(
        'ERR_CONFIG_INVALID',
        `cannot read tls.certFile or tls.keyFile (${config.tls.certFile})`,
        { key: 'tls.certFile' },
        { cause },
      );
    }
  }
  if (config.mode === 'production') {
    throw new CarapaceError(
      'ERR_CONFIG_INVALID',
      'production mode needs an operator-supplied server certificate: set tls.certFile and tls.keyFile',
      { key: 'tls.certFile' },
    );
  }
  const dir = join(config.dataDir, 'pki');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = join(dir, 'server-cert.pem');
  const keyFile = join(dir, 'server-key.pem');
  if (needsNewDevCert(certFile, config.tls.hostnames, pki.ctx.clock.now())) {
    const issued = await pki.issueServerCertificate(config.tls.hostnames, DEV_VALIDITY_DAYS);
    writePrivateFile(keyFile, issued.privateKeyPem ?? '');
    writeFileSync(certFile, issued.certificatePem, { mode: 0o644 });
  }
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), source: 'development', certFile };
}
