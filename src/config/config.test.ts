import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isCarapaceError } from '../platform/index.js';
import { clientEndpoints, loadConfig, renderConfigReference } from './index.js';

function tmpFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'carapace-cfg-')), name);
  writeFileSync(path, text);
  return path;
}

function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (isCarapaceError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected an error');
}

describe('configuration', () => {
  it('has documented defaults for embedded mode', () => {
    const c = loadConfig();
    expect(c.mode).toBe('development');
    expect(c.listeners.public.port).toBe(8443);
    expect(c.listeners.gateway.port).toBe(8444);
    expect(c.listeners.admin).toEqual({ host: '127.0.0.1', port: 8445 });
    expect(c.pki.operationalCertTtl).toBe(7 * 86400);
    expect(c.database.url).toBeNull();
  });

  it('derives the public URL from the public port unless it is set, and the client endpoints from both', () => {
    const moved = loadConfig({ env: { CARAPACE_PUBLIC_PORT: '9443', CARAPACE_GATEWAY_PORT: '9444' } });
    expect(moved.publicBaseUrl).toBe('https://localhost:9443');
    expect(clientEndpoints(moved)).toMatchObject({
      public: 'https://localhost:9443',
      gateway: 'https://localhost:9444',
      admin: 'https://127.0.0.1:8445',
      console: 'https://localhost:8445/console/',
    });
    const pinned = loadConfig({
      env: { CARAPACE_PUBLIC_PORT: '9443', CARAPACE_PUBLIC_BASE_URL: 'https://carapace.example.com' },
    });
    expect(pinned.publicBaseUrl).toBe('https://carapace.example.com');
    expect(clientEndpoints(pinned).gateway).toBe('https://carapace.example.com:8444');
  });

  it('layers file, environment and overrides in that order', () => {
    const file = tmpFile(
      'c.yaml',
      'listeners:\n  public:\n    port: 9000\n  gateway:\n    port: 9001\npki:\n  operationalCertTtl: 2d\n',
    );
    const c = loadConfig({
      file,
      env: { CARAPACE_GATEWAY_PORT: '9100' },
      overrides: { pki: { rotationOverlap: '10m' } },
    });
    expect(c.listeners.public.port).toBe(9000);
    expect(c.listeners.gateway.port).toBe(9100);
    expect(c.pki.operationalCertTtl).toBe(2 * 86400);
    expect(c.pki.rotationOverlap).toBe(600);
  });

  it('names the bad key for unknown keys, bad values and out-of-range durations', () => {
    expect(
      errorOf(() => loadConfig({ file: tmpFile('a.yaml', 'listeners:\n  public:\n    prot: 1\n') })),
    ).toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      message: expect.stringContaining('"listeners.public.prot"'),
    });
    expect(errorOf(() => loadConfig({ env: { CARAPACE_PUBLIC_PORT: 'http' } })).message).toContain(
      'listeners.public.port (from CARAPACE_PUBLIC_PORT)',
    );
    expect(errorOf(() => loadConfig({ env: { CARAPACE_PKI_OPERATIONAL_CERT_TTL: '31d' } })).message).toContain(
      'between 5m and 30d',
    );
    expect(errorOf(() => loadConfig({ env: { CARAPACE_GATEWAY_PROT: '1' } })).message).toContain(
      'CARAPACE_GATEWAY_PROT',
    );
    // The scripts' former variables are still refused, with what replaces them.
    expect(errorOf(() => loadConfig({ env: { CARAPACE_URL: 'https://localhost:9443' } })).message).toContain(
      'CARAPACE_PUBLIC_PORT',
    );
    expect(errorOf(() => loadConfig({ env: { CARAPACE_VIN: 'X' } })).message).toContain('--vin');
    expect(errorOf(() => loadConfig({ env: { CARAPACE_MODE: 'prod' } })).message).toContain('development, production');
    expect(errorOf(() => loadConfig({ overrides: { tls: { certFile: '/x.pem' } } })).message).toContain('tls.keyFile');
    expect(errorOf(() => loadConfig({ file: tmpFile('b.yaml', 'pki: 3\n') })).message).toContain('"pki"');
  });

  it('keeps docs/configuration.md in step with the schema', () => {
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    expect(doc).toBe(renderConfigReference());
  });
});
