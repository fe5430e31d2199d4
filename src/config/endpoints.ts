import { join } from 'node:path';
import type { Config } from './schema.js';

/** Where a client on this machine reaches each listener, and the files it needs to trust and be trusted. */
export interface ClientEndpoints {
  /** The public API: `publicBaseUrl`, the one URL every node answers for. */
  public: string;
  /** The vehicle gateway. */
  gateway: string;
  /** The admin plane. */
  admin: string;
  /** The operators' console on the admin plane, at the name its sign-in returns to (`operators.consoleUrl`). */
  console: string;
  /** The root CA that signed the server certificates (written at every start). */
  caFile: string;
  /** The development operator's certificate and key (written in development mode). */
  operatorCertFile: string;
  operatorKeyFile: string;
}

const WILDCARD = new Set(['0.0.0.0', '::', '[::]']);

function url(host: string, port: number, fallbackHost: string): string {
  const h = WILDCARD.has(host) ? fallbackHost : host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `https://${h}:${port}`;
}

/**
 * The URLs and files the CLI and the scripts use, derived from the same configuration as the server (so a server
 * on other ports, or another data directory, needs no flag). A listener bound to every address is reached at the
 * public URL's host, which the development server certificate names.
 */
export function clientEndpoints(config: Config): ClientEndpoints {
  const publicHost = new URL(config.publicBaseUrl).hostname;
  const { gateway, admin } = config.listeners;
  const adminUrl = url(admin.host, admin.port, '127.0.0.1');
  const operator = join(config.dataDir, 'pki', 'operator');
  return {
    public: config.publicBaseUrl.replace(/\/$/, ''),
    gateway: url(gateway.host, gateway.port, publicHost),
    admin: adminUrl,
    // The same origin the server sends the console's sign-in back to: a page opened at another name is moved there.
    console: `${(config.operators.consoleUrl ?? `https://localhost:${admin.port}`).replace(/\/$/, '')}/console/`,
    caFile: join(config.dataDir, 'pki', 'ca.pem'),
    operatorCertFile: join(operator, 'admin-cert.pem'),
    operatorKeyFile: join(operator, 'admin-key.pem'),
  };
}
