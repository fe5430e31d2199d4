import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');

/** The README walkthrough: `carapace simulate` against a live server, then scripts/command.ts as Alice and as Dana. */
describe.each(testEngines())('the README remote-command walkthrough (%s)', (database) => {
  let cp: TestCarapace;
  let caFile: string;
  let simulator: ChildProcess;
  let simulated = '';

  beforeAll(async () => {
    cp = await startTestCarapace({ database, overrides: { seedDemo: true } });
    caFile = join(cp.config.dataDir, 'test-ca.pem');
    writeFileSync(caFile, cp.ca);
    simulator = spawn(
      'node',
      [
        '--import',
        'tsx',
        join(root, 'src/cli/main.ts'),
        'simulate',
        '--vehicles',
        '2',
        '--gateway',
        cp.addresses.gateway,
        '--ca',
        caFile,
      ],
      {
        cwd: root,
        env: { ...process.env, CARAPACE_DATA_DIR: cp.config.dataDir, CARAPACE_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    await new Promise<void>((resolve, reject) => {
      simulator.stdout?.on('data', (d: Buffer) => {
        simulated += d.toString();
        if (simulated.includes('simulating 2 vehicle(s)')) resolve();
      });
      simulator.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
    });
  }, 120_000);
  afterAll(async () => {
    simulator?.kill('SIGTERM');
    await cp?.stop();
  });

  it('Alice unlocks with step-up and the simulated car confirms; Dana without a second factor gets the challenge', async () => {
    expect(simulated).toContain('TCU-DEMO-0001=');
    const env = {
      ...process.env,
      // The server's own configuration variables only: the script finds the listeners and the CA from them.
      CARAPACE_DATA_DIR: cp.config.dataDir,
      CARAPACE_PUBLIC_PORT: new URL(cp.addresses.public).port,
      CARAPACE_GATEWAY_PORT: new URL(cp.addresses.gateway).port,
      CARAPACE_ADMIN_PORT: new URL(cp.addresses.admin).port,
    };
    const { stdout } = await run(
      'node',
      ['--import', 'tsx', join(root, 'scripts/command.ts'), 'alice@example.com', 'unlock'],
      { cwd: root, timeout: 60_000, env },
    );
    expect(stdout).toContain('-> 202');
    expect(stdout).toMatch(/: confirmed \(signed acknowledgement verified/);
    const jobId = /"id": "([0-9a-f-]{36})"/.exec(stdout)?.[1] as string;
    const events = await cp.platform.audit.list({ objectId: jobId, limit: 20 });
    expect(events.map((e) => e.type)).toContain('commands.job.requested');
    const dana = await run(
      'node',
      ['--import', 'tsx', join(root, 'scripts/command.ts'), 'dana@example.com', 'unlock'],
      { cwd: root, timeout: 60_000, env },
    ).then(
      () => null,
      (err: { stdout: string }) => err.stdout,
    );
    expect(dana).toContain('-> 401');
    expect(dana).toContain('error="insufficient_user_authentication"');
  });
});
