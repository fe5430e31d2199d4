import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PolicySetError } from '../src/policy/index.js';
import { startTestCarapace, testEngines } from '../src/testing/index.js';

describe.each(testEngines())('policy set at start (%s)', (database) => {
  it('refuses to start with a policy that does not validate, and starts with the shipped set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'carapace-bad-policy-'));
    try {
      cpSync('policies', dir, { recursive: true });
      // A permit on an action the schema does not declare: a typo that would silently grant nothing, or worse.
      writeFileSync(
        join(dir, 'typo.cedar'),
        '@id("typo")\npermit (principal is Carapace::User, action == Carapace::Action::"vehicle:unlock_all", resource is Carapace::Vehicle);\n',
      );
      await expect(startTestCarapace({ database, overrides: { policy: { dir } } })).rejects.toBeInstanceOf(
        PolicySetError,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const cp = await startTestCarapace({ database });
    expect(cp.platform.authorization.policySet.version).toMatch(/^sha256:/);
    await cp.stop();
  });
});
