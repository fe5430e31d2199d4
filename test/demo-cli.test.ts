import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { checkTotp } from '../src/identity/index.js';
import { freePort } from '../src/testing/index.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const scratch = mkdtempSync(join(tmpdir(), 'carapace-demo-cli-'));

/** Runs the shipped binary, as a user does (`npx carapace …` runs bin/carapace.js). */
async function carapace(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(root, 'bin', 'carapace.js'), ...args], {
      env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', CARAPACE_LOG_LEVEL: 'warn', ...env },
      timeout: 60_000,
    });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

/** A data directory shaped like the one `npm start` leaves. */
function demoData(name: string): string {
  const dir = join(scratch, name);
  mkdirSync(join(dir, 'pki'), { recursive: true });
  writeFileSync(join(dir, 'carapace.sqlite'), 'not really a database');
  return dir;
}

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('carapace demo and --version', () => {
  it('prints the version of package.json', async () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await carapace([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${pkg.version}\n`);
    }
  });

  it('resets the demo data only when confirmed, and then removes it', async () => {
    const dir = demoData('confirm');
    const unconfirmed = await carapace(['demo', 'reset'], { CARAPACE_DATA_DIR: dir });
    expect(unconfirmed.code).not.toBe(0);
    expect(unconfirmed.stderr).toContain('confirm with --yes');
    expect(existsSync(join(dir, 'carapace.sqlite'))).toBe(true);

    const reset = await carapace(['demo', 'reset', '--yes'], { CARAPACE_DATA_DIR: dir });
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain(`demo reset: removed ${dir}`);
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses to reset while a server listens on a configured port, in production, or outside a data directory', async () => {
    const dir = demoData('busy');
    const port = await freePort();
    const listener: Server = createServer().listen(port, '127.0.0.1');
    await new Promise((r) => listener.once('listening', r));
    try {
      const busy = await carapace(['demo', 'reset', '--yes'], {
        CARAPACE_DATA_DIR: dir,
        CARAPACE_ADMIN_PORT: `${port}`,
      });
      expect(busy.code).not.toBe(0);
      expect(busy.stderr).toContain(`something is listening on port ${port}`);
    } finally {
      listener.close();
    }
    const production = await carapace(['demo', 'reset', '--yes'], {
      CARAPACE_DATA_DIR: dir,
      CARAPACE_MODE: 'production',
    });
    expect(production.code).not.toBe(0);
    expect(production.stderr).toContain('[ERR_FORBIDDEN]');
    expect(existsSync(join(dir, 'carapace.sqlite'))).toBe(true);

    const stranger = join(scratch, 'someone-else');
    mkdirSync(stranger);
    writeFileSync(join(stranger, 'thesis.tex'), 'keep me');
    const wrong = await carapace(['demo', 'reset', '--yes'], { CARAPACE_DATA_DIR: stranger });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('does not look like a Carapace data directory');
    expect(existsSync(join(stranger, 'thesis.tex'))).toBe(true);
  });

  it('refuses the demo server in production mode', async () => {
    const r = await carapace(['demo'], { CARAPACE_DATA_DIR: join(scratch, 'prod'), CARAPACE_MODE: 'production' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('production mode refuses the demo');
  });

  it("prints a demo account's current one-time code, which the server would accept", async () => {
    const r = await carapace(['demo', 'code', 'alice@example.com'], { CARAPACE_DATA_DIR: join(scratch, 'code') });
    expect(r.code).toBe(0);
    const code = r.stdout.trim();
    expect(checkTotp('JBSWY3DPEHPK3PXPALICE234', code, new Date())).not.toBeNull();
    const unknown = await carapace(['demo', 'code', 'mallory@example.com'], { CARAPACE_DATA_DIR: join(scratch, 'c') });
    expect(unknown.code).not.toBe(0);
  });
});
