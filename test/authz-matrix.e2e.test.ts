import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMatrix } from '../src/authz-matrix/index.js';
import { readScenario } from '../src/server/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { matrixSuite } from './authz-matrix-support.js';

// One file per engine, so the two vitest workers run the engines side by side.
matrixSuite('sqlite');

// On SQLite only: the mutation is in the policies, which decide alike on both engines; the full matrix above
// already runs on each engine, and this run costs a minute of a 2-core CI.
describe.each(testEngines().filter((e) => e === 'sqlite'))(
  'authorization matrix catches a policy that grants too much (%s)',
  (database) => {
    let cp: TestCarapace;
    let dir: string;
    beforeAll(async () => {
      // A plausible mistake: a driver may also manage the vehicle's drivers (re-share it).
      dir = mkdtempSync(join(tmpdir(), 'carapace-policies-'));
      cpSync('policies', dir, { recursive: true });
      const drivers = readFileSync(join(dir, 'drivers.cedar'), 'utf8');
      writeFileSync(
        join(dir, 'drivers.cedar'),
        drivers.replace(
          'Carapace::Action::"vehicle:read_location"\n  ],',
          'Carapace::Action::"vehicle:read_location",\n    Carapace::Action::"delegation:list"\n  ],',
        ),
      );
      // A second mistake, in a per-command rule: a driver may send any command, not only the delegated ones.
      const delegated =
        '  context.delegation.vehicle == resource &&\n  context.delegation.commands.contains(context.command)';
      expect(drivers).toContain(delegated);
      writeFileSync(
        join(dir, 'drivers.cedar'),
        readFileSync(join(dir, 'drivers.cedar'), 'utf8').replace(delegated, '  context.delegation.vehicle == resource'),
      );
      // A third, in job-level visibility: anyone who may follow a vehicle's jobs reads every one of them.
      const ownJob = 'when { resource.requester == principal };';
      const commands = readFileSync(join(dir, 'commands.cedar'), 'utf8');
      expect(commands).toContain(ownJob);
      writeFileSync(join(dir, 'commands.cedar'), commands.replace(ownJob, 'when { true };'));
      cp = await startTestCarapace({
        database,
        overrides: { seedDemo: true, detect: { enabled: false }, policy: { dir } },
      });
    }, 120_000);
    afterAll(async () => {
      await cp?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('reports the over-broad cells as unexpected', async () => {
      expect(readFileSync(join(dir, 'drivers.cedar'), 'utf8')).toContain('"delegation:list"');
      // The over-broad grant shows in the seeded state already; the later phases add minutes and nothing to this.
      const report = await runMatrix(
        readScenario('scenarios/demo.yaml'),
        { baseUrl: cp.config.publicBaseUrl, ca: cp.ca, partnerKeysDir: join(cp.config.dataDir, 'demo') },
        { seededOnly: true },
      );
      expect(report.summary.phases).toEqual(['seeded']);
      const wrong = report.cells.filter((c) => c.unexpected);
      expect(wrong.length).toBeGreaterThan(0);
      const overBroadList = wrong.filter((c) => c.action === 'delegation:list');
      expect(overBroadList.every((c) => c.observed === 'allowed' && c.expected === 403)).toBe(true);
      expect(overBroadList.some((c) => c.persona === 'dana' && c.object === 'alice-car')).toBe(true);
      // The per-command cells catch the undelegated commands (and only the driver's, only on her car).
      const undelegated = wrong.filter((c) => c.command);
      expect(undelegated.map((c) => c.command)).toContain('remote_start');
      expect(undelegated.every((c) => c.persona === 'dana' && c.object === 'alice-car' && c.expected === 403)).toBe(
        true,
      );
      // The job cells catch the jobs shown to people who did not ask for them and hold the vehicle from no date.
      const foreignJobs = wrong.filter((c) => c.object.startsWith('job#'));
      expect(foreignJobs.some((c) => c.persona === 'dana' && c.object === 'job#alice-car#alice')).toBe(true);
      expect(foreignJobs.every((c) => c.observed === 'allowed' && c.expected === 404)).toBe(true);
      const lists = wrong.filter((c) => c.action === 'vehicle:list_commands');
      expect(overBroadList.length + undelegated.length + foreignJobs.length + lists.length).toBe(wrong.length);
    }, 300_000);
  },
);
