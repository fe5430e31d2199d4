import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// The slowest files, slowest first (measured on the 2-core machine, alone). Without a results cache (a fresh clone,
// as CI runs) Vitest keeps the glob's alphabetical order, which left webhooks and the walkthrough (about 90 and 70 s)
// to run last while the other worker sat idle. Starting the long files first lets the short ones fill the gaps.
const SLOWEST = [
  'test/authz-matrix.e2e.test.ts',
  'test/webhooks.e2e.test.ts',
  'test/authz-mutate.e2e.test.ts',
  'test/walkthrough.e2e.test.ts',
  'test/probe.e2e.test.ts',
  'test/authz-matrix-postgres.e2e.test.ts',
  'test/faults/fleet-reconnect.test.ts',
  'test/telemetry-durability.e2e.test.ts',
  'test/cli.test.ts',
  'test/telemetry.e2e.test.ts',
  'test/webhooks-durability.e2e.test.ts',
  'test/login-script.e2e.test.ts',
  'test/incidents-cli.e2e.test.ts',
  'test/drill.e2e.test.ts',
];

/** Vitest's own order (its results cache, else file size), with the known slowest files moved to the front. */
export class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ordered = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = SLOWEST.indexOf(relative(this.ctx.config.root, f.moduleId));
      return i === -1 ? SLOWEST.length : i;
    };
    return [...ordered].sort((a, b) => rank(a) - rank(b));
  }
}
