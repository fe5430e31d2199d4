import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/testing/index.js';
import { httpsRequest } from '../src/vehicle-sdk/index.js';

/**
 * What `npm start` runs, as it runs it: `node bin/carapace.js serve` over the build `npm install` made (dist/), not
 * the TypeScript sources the other tests load. A build step that deletes another's output (the console bundle once
 * emptied the compiled console module) shows here and nowhere else.
 */
describe('the shipped build starts as npm start runs it', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'carapace-start-'));
  let server: ChildProcess;
  let ports: { pub: number; gw: number; adm: number };
  let stderr = '';

  beforeAll(async () => {
    ports = { pub: await freePort(), gw: await freePort(), adm: await freePort() };
    const env = {
      ...process.env,
      CARAPACE_DATA_DIR: dataDir,
      CARAPACE_LOG_LEVEL: 'warn',
      CARAPACE_PUBLIC_PORT: String(ports.pub),
      CARAPACE_GATEWAY_PORT: String(ports.gw),
      CARAPACE_ADMIN_PORT: String(ports.adm),
      DATABASE_URL: '',
      REDIS_URL: '',
    };
    server = spawn(process.execPath, [join(import.meta.dirname, '..', 'bin', 'carapace.js'), 'serve'], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      server.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('Carapace is running.')) resolve();
      });
      server.once('exit', (code) => reject(new Error(`the server exited with ${code}: ${stderr.slice(-2000)}`)));
    });
  }, 120_000);
  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the console page and the API on the configured ports', async () => {
    const ca = readFileSync(join(dataDir, 'pki', 'ca.pem'), 'utf8');
    const page = await httpsRequest(`https://localhost:${ports.adm}/console/`, { ca });
    expect(page.status).toBe(200);
    expect(page.text).toContain('<div id="app">');
    const ready = await httpsRequest(`https://localhost:${ports.pub}/readyz`, { ca });
    expect(ready.status).toBe(200);
  });
});
