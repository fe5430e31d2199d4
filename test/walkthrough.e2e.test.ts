import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/testing/index.js';
import { httpsRequest } from '../src/vehicle-sdk/index.js';

const root = join(import.meta.dirname, '..');

/** The shell lines of README's "Quick start" command blocks, as a user would paste them (comments dropped). */
function quickStartCommands(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('## Quick start'),
    readme.indexOf('\n## ', readme.indexOf('## Quick start')),
  );
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) =>
    (m[1] as string)
      .split('\n')
      .map((l) => l.replace(/\s+#.*$/, '').trim())
      .filter(Boolean),
  );
}

/** Runs one command line through the shell; resolves with its output and exit code. */
function sh(line: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', line], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The README's first five minutes, run as written by a new user: `npm install && npm start` in one terminal (the
 * clone is already installed, so `npm install` is the one step not run), then each further Quick start line in
 * another, against a server whose ports and data directory differ from the defaults and reach the commands only
 * through the server's own configuration variables. It ends at a command the car confirmed, seen through the
 * console's API; then the authorization matrix from the CLI must leave that walk repeatable.
 */
describe('the README Quick start, on non-default ports', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'carapace-walkthrough-'));
  let server: ChildProcess | null = null;
  let banner = '';

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server?.once('exit', r));
      process.kill(-(server.pid as number), 'SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('goes from npm start to a confirmed command seen in the console, and the matrix leaves it repeatable', async () => {
    const ports = { pub: await freePort(), gw: await freePort(), adm: await freePort() };
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CARAPACE_DATA_DIR: dataDir,
      CARAPACE_LOG_LEVEL: 'warn',
      CARAPACE_PUBLIC_PORT: String(ports.pub),
      CARAPACE_GATEWAY_PORT: String(ports.gw),
      CARAPACE_ADMIN_PORT: String(ports.adm),
      DATABASE_URL: '',
      REDIS_URL: '',
    };
    const commands = quickStartCommands();
    expect(commands[0]).toBe('npm install && npm start');
    expect(existsSync(join(root, 'dist', 'cli', 'main.js')), 'npm install builds dist/').toBe(true);

    const started = Date.now();
    // `npm start` in its own process group, so that stopping it stops the server npm runs.
    server = spawn('sh', ['-c', 'npm start'], { cwd: root, env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      server?.stderr?.on('data', (d: Buffer) => {
        banner += d.toString();
        if (/fleet: \d+ demo car\(s\) online/.test(banner)) resolve();
      });
      server?.once('exit', (code) => reject(new Error(`npm start exited with ${code}: ${banner.slice(-2000)}`)));
    });
    // The banner names the console at the configured port, and how to sign in to it.
    const consoleUrl = `https://localhost:${ports.adm}/console/`;
    expect(banner).toContain(`console         ${consoleUrl}`);
    expect(banner).toContain('sign in as security-admin@operators.demo / demo-security-admin-password');
    expect(banner).not.toMatch(/:8443|:8444|:8445/);

    let last = '';
    for (const line of commands.slice(1)) {
      const r = await sh(line, env);
      expect(r.code, `${line}\n${r.stdout}\n${r.stderr}`).toBe(0);
      last = r.stdout;
    }
    expect(last).toMatch(/job [0-9a-f-]{36}: confirmed \(signed acknowledgement verified/);
    const confirmedAfter = Date.now() - started;
    process.stderr.write(`walkthrough: npm start to a confirmed command in ${(confirmedAfter / 1000).toFixed(1)} s\n`);
    expect(banner).toMatch(/fleet: TCU-DEMO-0001 executed unlock/);

    // What the console shows: its page at the banner's URL, and the investigation it runs from the job id.
    const ca = readFileSync(join(dataDir, 'pki', 'ca.pem'), 'utf8');
    expect((await httpsRequest(consoleUrl, { ca })).status).toBe(200);
    const jobId = /job ([0-9a-f-]{36}): confirmed/.exec(last)?.[1] as string;
    const operator = join(dataDir, 'pki', 'operator');
    const investigation = await httpsRequest(
      `https://localhost:${ports.adm}/admin/v1/investigations?pivot=job&value=${jobId}`,
      {
        ca,
        cert: readFileSync(join(operator, 'admin-cert.pem'), 'utf8'),
        key: readFileSync(join(operator, 'admin-key.pem'), 'utf8'),
      },
    );
    expect(investigation.status).toBe(200);
    expect(investigation.text).toContain(jobId);

    // The authorization matrix from the CLI signs every persona in (Alice too: her current code is then used) and
    // probes every route; afterwards the same Quick start line must still end in a confirmed command.
    const report = join(dataDir, 'authz-report.json');
    const matrix = await sh(`node bin/carapace.js authz-matrix --scenario scenarios/demo.yaml --report ${report}`, env);
    expect(matrix.stdout, matrix.stderr.slice(-2000)).toMatch(/authz-matrix: cells=\d+ unexpected=0/);
    const again = await sh(commands.at(-1) as string, env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/: confirmed \(signed acknowledgement verified/);
  }, 300_000);
});
