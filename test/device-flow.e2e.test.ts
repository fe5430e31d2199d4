import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');

/** Runs the README's manual device flow (scripts/device-flow.sh: openssl and curl only) against a live server. */
describe.each(testEngines())('the README device flow with openssl and curl (%s)', (database) => {
  let cp: TestCarapace;
  beforeAll(async () => {
    cp = await startTestCarapace({ database });
  });
  afterAll(async () => {
    await cp.stop();
  });

  it('enrolls, calls the gateway, gets revoked and is refused', async () => {
    const { stdout } = await run('bash', [join(root, 'scripts/device-flow.sh')], {
      cwd: root,
      timeout: 60_000,
      env: {
        ...process.env,
        CARAPACE: `node --import tsx ${join(root, 'src/cli/main.ts')}`,
        CARAPACE_DATA_DIR: cp.config.dataDir,
        CARAPACE_LOG_LEVEL: 'warn',
        // The script's CLI calls (provision, revoke) must reach the same database as the server under test.
        DATABASE_URL: cp.config.database.url ?? '',
        CARAPACE_DATABASE_SCHEMA: cp.config.database.schema,
        REDIS_URL: '',
        // Only the server's own configuration variables: the script derives its URLs from them.
        CARAPACE_PUBLIC_PORT: new URL(cp.addresses.public).port,
        CARAPACE_GATEWAY_PORT: new URL(cp.addresses.gateway).port,
        CARAPACE_ADMIN_PORT: new URL(cp.addresses.admin).port,
      },
    });
    expect(stdout).toMatch(/factory certificate for TCU-\d+-\d+/);
    expect(stdout).toContain('"status":"active"');
    expect(stdout).toContain('"revokedSerials":["');
    expect(stdout).toContain('ERR_CLIENT_CERT_REVOKED');
    const refusals = await cp.platform.audit.list({ type: 'gateway.request.refused', decision: 'deny' });
    expect(refusals.some((e) => e.reason === 'certificate_revoked')).toBe(true);
  });
});
