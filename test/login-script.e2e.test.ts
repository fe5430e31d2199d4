import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');

/** Runs the README's persona login (scripts/login-as.ts) for every demo persona against a live server. */
describe.each(testEngines())('the README persona login with the client library (%s)', (database) => {
  let cp: TestCarapace;
  let caFile: string;
  beforeAll(async () => {
    cp = await startTestCarapace({ database, overrides: { seedDemo: true } });
    caFile = join(cp.config.dataDir, 'test-ca.pem');
    writeFileSync(caFile, cp.ca);
  });
  afterAll(async () => {
    await cp.stop();
  });

  it('signs each persona in, shows /v1/me, and refuses the captured token with another key', async () => {
    // Every persona on SQLite; on PostgreSQL the first and the last: the script is
    // a client, the engine only changes the server behind it, and each process costs seconds on 2 cores.
    const all = cp.seeded!.personas;
    const personas = database === 'sqlite' ? all : [all[0]!, all.at(-1)!];
    for (const persona of personas) {
      const { stdout } = await run('node', ['--import', 'tsx', join(root, 'scripts/login-as.ts'), persona.email], {
        cwd: root,
        timeout: 60_000,
        env: {
          ...process.env,
          // The server's own configuration variables only: the script finds the listeners and the CA from them.
          CARAPACE_DATA_DIR: cp.config.dataDir,
          CARAPACE_PUBLIC_PORT: new URL(cp.addresses.public).port,
          CARAPACE_GATEWAY_PORT: new URL(cp.addresses.gateway).port,
          CARAPACE_ADMIN_PORT: new URL(cp.addresses.admin).port,
        },
      });
      expect(stdout, persona.email).toContain('GET /v1/me -> 200');
      expect(stdout, persona.email).toContain(`"email": "${persona.email}"`);
      expect(stdout, persona.email).toMatch(
        /replayed with another key: GET \/v1\/me -> 401 DPoP error="invalid_dpop_proof"/,
      );
    }
    const refusals = await cp.platform.audit.list({ type: 'auth.token.refused', limit: 100 });
    expect(refusals.filter((e) => e.reason === 'dpop_key_mismatch')).toHaveLength(personas.length);
  }, 300_000);
});
