import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { PolicySetError } from '../../src/policy/index.js';
import { startTestCarapace } from '../../src/testing/index.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../../src/cli/main.ts')];
const work = mkdtempSync(join(tmpdir(), 'carapace-required-policies-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A copy of the shipped policies, changed by `edit`. */
function policyCopy(name: string, edit: (dir: string) => void): string {
  const dir = join(work, name);
  cpSync('policies', dir, { recursive: true });
  edit(dir);
  return dir;
}

describe('required policies (issue 18 item 7)', () => {
  it('`carapace serve` exits non-zero, naming what is missing, when guardrails.cedar is gone', async () => {
    const dir = policyCopy('no-guardrails', (d) => rmSync(join(d, 'guardrails.cedar')));
    const env = {
      ...process.env,
      CARAPACE_DATA_DIR: join(work, 'data'),
      CARAPACE_POLICY_DIR: dir,
      CARAPACE_LOG_LEVEL: 'warn',
      DATABASE_URL: '',
      REDIS_URL: '',
    };
    const outcome = await run('node', [...CLI, 'serve'], { env, timeout: 60_000 }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(outcome.code).not.toBe(0);
    expect(outcome.stderr).toMatch(/required policies are missing/);
    expect(outcome.stderr).toMatch(/guardrail\.step-up-commands is missing/);
  });

  it('refuses one guardrail removed, or a required forbid turned into a permit', async () => {
    const oneLess = policyCopy('one-less', (d) => {
      const text = readFileSync(join(d, 'guardrails.cedar'), 'utf8');
      const start = text.indexOf('@id("guardrail.mfa-for-critical-changes")');
      const end = text.indexOf('@id(', start + 1);
      writeFileSync(join(d, 'guardrails.cedar'), text.slice(0, start) + text.slice(end));
    });
    const flipped = policyCopy('flipped', (d) => {
      const text = readFileSync(join(d, 'commands.cedar'), 'utf8');
      const at = text.indexOf('@id("commands.missing-scope")');
      writeFileSync(join(d, 'commands.cedar'), text.slice(0, at) + text.slice(at).replace('forbid', 'permit'));
    });
    for (const [dir, problem] of [
      [oneLess, 'guardrail.mfa-for-critical-changes is missing'],
      [flipped, 'commands.missing-scope is no longer a forbid'],
    ] as const) {
      const refused = await startTestCarapace({ database: 'sqlite', overrides: { policy: { dir } } }).then(
        () => null,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(PolicySetError);
      expect((refused as PolicySetError).problems).toEqual([problem]);
    }
  });
});
