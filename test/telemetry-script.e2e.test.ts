import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');

/**
 * Runs the README's telemetry walkthrough (scripts/send-telemetry.ts) twice against a live server: enroll, then resume.
 */
describe.each(testEngines())('the README telemetry script (%s)', (database) => {
  let cp: TestCarapace;
  beforeAll(async () => {
    cp = await startTestCarapace({ database });
  });
  afterAll(async () => {
    await cp.stop();
  });

  it('sends SDK telemetry that shows up as vehicle state, and keeps credentials and sequence numbers across runs', async () => {
    const unit = await cp.factoryUnit('TCU-SCRIPT-1');
    const dir = join(cp.config.dataDir, 'factory');
    mkdirSync(dir);
    writeFileSync(join(dir, 'factory-cert.pem'), unit.cert);
    writeFileSync(join(dir, 'factory-key.pem'), unit.key);
    const env = {
      ...process.env,
      // The server's own configuration variables only: the script finds the listeners and the CA from them.
      CARAPACE_DATA_DIR: cp.config.dataDir,
      CARAPACE_PUBLIC_PORT: new URL(cp.addresses.public).port,
      CARAPACE_GATEWAY_PORT: new URL(cp.addresses.gateway).port,
      CARAPACE_ADMIN_PORT: new URL(cp.addresses.admin).port,
    };
    const script = () =>
      run('node', ['--import', 'tsx', join(root, 'scripts/send-telemetry.ts'), dir], {
        cwd: root,
        timeout: 60_000,
        env,
      });

    const first = (await script()).stdout;
    expect(first).toContain(`device ${unit.deviceId} of vehicle ${unit.vehicleId}`);
    expect(first).toContain('batch: accepted 6, duplicates 0, rejected 0');
    expect(first).toContain('same batch again: accepted 0, duplicates 6, rejected 0');
    expect(first).toContain(
      'forged and skewed: accepted 0, duplicates 0, rejected 2 ["bad_signature","timestamp_skew"]',
    );
    expect(first).toContain('vehicle state (admin plane) -> 200');
    expect(first).toContain('"gear": {\n    "value": "P"');

    // The second run resumes the stored credentials (no second enrollment) and continues the sequence.
    const second = (await script()).stdout;
    expect(second).toContain('batch: accepted 6, duplicates 0, rejected 0');
    expect(Number(readFileSync(join(dir, 'telemetry.seq'), 'utf8'))).toBe(512);
  });
});
