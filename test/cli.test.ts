import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/index.js';
import { x509 } from '../src/platform/index.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli/main.ts')];
const dataDir = mkdtempSync(join(tmpdir(), 'carapace-cli-'));
const env = { ...process.env, CARAPACE_DATA_DIR: dataDir, CARAPACE_LOG_LEVEL: 'warn', DATABASE_URL: '', REDIS_URL: '' };

async function carapace(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run('node', [...CLI, ...args], { env, timeout: 60_000 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('carapace CLI', () => {
  it('has --help on every subcommand', async () => {
    const subcommands = [
      [],
      ['serve'],
      ['seed'],
      ['migrate'],
      ['pki'],
      ['pki', 'import'],
      ['pki', 'factory-cert'],
      ['pki', 'provision'],
      ['pki', 'operator-cert'],
      ['pki', 'revoke'],
      ['pki', 'device-status'],
      ['pki', 'replace'],
      ['pki', 'crl'],
      ['auth'],
      ['auth', 'rotate-signing-key'],
      ['audit'],
      ['audit', 'list'],
      ['audit', 'verify'],
      ['audit', 'checkpoint'],
      ['config'],
      ['config', 'check'],
      ['config', 'reference'],
    ];
    for (const sub of subcommands) {
      let out = '';
      const program = buildProgram({ writeOut: (t) => (out += t), writeErr: (t) => (out += t) });
      await expect(program.parseAsync(['node', 'carapace', ...sub, '--help']), sub.join(' ')).rejects.toMatchObject({
        code: 'commander.helpDisplayed',
      });
      expect(out, sub.join(' ')).toContain(`Usage: carapace${sub.length ? ` ${sub.join(' ')}` : ''}`);
    }
    // And the real binary entry point answers too.
    expect((await carapace('pki', 'factory-cert', '--help')).stdout).toContain('--serial <tcu-serial>');
  });

  it('migrates, issues a factory certificate with a 0600 key, revokes, and lists the audit trail', async () => {
    expect((await carapace('migrate')).stdout).toMatch(/applied [1-9]\d* migration\(s\); (\d+) known/);
    expect((await carapace('migrate')).stdout).toMatch(/applied 0 migration\(s\)/);
    const out = join(dataDir, 'unit');
    const fc = await carapace(
      'pki',
      'factory-cert',
      '--serial',
      'TCU-CLI-1',
      '--vin',
      '1HGCM82633A004352',
      '--out',
      out,
    );
    expect(fc.code).toBe(0);
    const issued = JSON.parse(fc.stdout) as { deviceId: string; status: string };
    expect(issued.status).toBe('provisioned');
    expect(statSync(join(out, 'factory-key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'pki', 'root-ca.key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'pki')).mode & 0o777).toBe(0o700);
    const cert = new x509.X509Certificate(readFileSync(join(out, 'factory-cert.pem'), 'utf8'));
    expect(cert.issuer).toContain('Manufacturer CA');
    // The key never reaches stdout.
    expect(fc.stdout).not.toContain('PRIVATE KEY');

    const revoke = await carapace(
      'pki',
      'device-status',
      '--device',
      issued.deviceId,
      '--status',
      'decommissioned',
      '--reason',
      'scrapped',
    );
    expect(JSON.parse(revoke.stdout)).toMatchObject({ status: 'decommissioned' });
    const audit = await carapace('audit', 'list', '--type-prefix', 'pki.device.');
    const types = audit.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { type: string }).type);
    expect(types).toEqual(expect.arrayContaining(['pki.device.provisioned', 'pki.device.transitioned']));
  });

  it('fails with one clear line naming the bad key or value', async () => {
    const bad = await run('node', [...CLI, 'migrate'], { env: { ...env, CARAPACE_GATEWAY_PORT: 'eighty' } }).then(
      () => ({ stderr: '', code: 0 }),
      (e: { stderr: string; code: number }) => e,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/listeners\.gateway\.port \(from CARAPACE_GATEWAY_PORT\)/);
    const reason = await carapace('pki', 'revoke', '--serial', 'AB', '--reason', 'because');
    expect(reason.code).not.toBe(0);
    expect(reason.stderr).toMatch(/Allowed choices are/);
    const both = await carapace('pki', 'revoke', '--serial', 'AB', '--device', 'x');
    expect(both.stderr).toMatch(/exactly one of --serial or --device/);
  });
});
