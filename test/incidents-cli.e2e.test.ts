import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCarapace, type TestCarapace } from '../src/testing/index.js';
import { finding, report } from './incidents-support.js';

const exec = promisify(execFile);
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli/main.ts')];

describe('carapace incidents over the admin API', () => {
  let cp: TestCarapace;
  const carapace = async (...args: string[]) => {
    const env = { ...process.env, CARAPACE_DATA_DIR: cp.config.dataDir, DATABASE_URL: '', REDIS_URL: '' };
    try {
      const { stdout } = await exec('node', [...CLI, 'incidents', '--admin-url', cp.addresses.admin, ...args], {
        env,
        timeout: 60_000,
      });
      return { stdout, code: 0, stderr: '' };
    } catch (err) {
      const e = err as { stdout: string; stderr: string; code: number };
      return { stdout: e.stdout, stderr: e.stderr, code: e.code };
    }
  };

  beforeAll(async () => {
    cp = await startTestCarapace({ database: 'sqlite' });
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
  });

  it('lists playbooks, opens, dry-runs, runs, approves and transitions, with the default operator files', async () => {
    const playbooks = await carapace('playbooks');
    expect(playbooks.stdout).toContain('device-credential-compromise v1 (6 steps)');
    const device = await cp.enrolledDevice('TCU-CLI-1');
    const { deviceId } = device.credentials!.issued;
    const opened = await carapace(
      'open',
      '--title',
      'cli incident',
      '--severity',
      'high',
      '--device',
      deviceId,
      '--json',
    );
    expect(opened.code, opened.stderr).toBe(0);
    const id = (JSON.parse(opened.stdout) as { incident: { id: string } }).incident.id;
    const dry = await carapace('dry-run', id, 'device-credential-compromise');
    expect(dry.stdout).toMatch(/suspend\s+device\.suspend\s+would run\s+vehicles=1 approval=0/);
    expect(
      (await cp.platform.pki.ctx.db.selectFrom('devices').select('status').where('id', '=', deviceId).execute())[0],
    ).toEqual({ status: 'active' });
    const run = await carapace('run', id, 'device-credential-compromise', '--json');
    const r = JSON.parse(run.stdout) as { state: string; steps: { id: string; stepId: string; state: string }[] };
    expect(r.state).toBe('awaiting_approval');
    const retire = r.steps.find((s) => s.stepId === 'retire')!;
    const approved = await carapace('approve', retire.id, '--reason', 'workshop');
    expect(approved.stdout.split('\n')[0]).toBe('done');
    const show = await carapace('show', id);
    expect(show.stdout).toContain('contained');
    expect(show.stdout).toContain('operator:admin: opened: cli incident');
    const bad = await carapace('transition', id, 'closed', '--reason', 'too early');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('ERR_INCIDENT_TRANSITION_REFUSED');
    const f = finding({ severity: 'critical', title: 'from the engine' });
    await report(cp, f);
    const list = await carapace('list', '--state', 'open');
    expect(list.stdout).toContain('from the engine');
    expect(list.stdout).not.toContain('cli incident');
  });
});
