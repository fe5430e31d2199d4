import { describe, expect, it } from 'vitest';
import {
  DEFAULT_EQUIVALENTS,
  judgeWithMatrix,
  readEquivalents,
  readPolicySource,
  runMutation,
} from '../src/authz-mutate/index.js';

// Each mutant is judged by the real public matrix on a server of its own (SQLite, loopback TLS), as the CLI does.
// The runner's bookkeeping (equivalents, survivors, the score, stale records) is covered in
// src/authz-mutate/runner.test.ts; this file proves the real judge: the unmutated set passes every phase, and a
// known-bad mutant is caught by real HTTP.
describe('policy mutation testing against the authorization matrix', () => {
  const source = readPolicySource('policies');
  const equivalents = readEquivalents(DEFAULT_EQUIVALENTS);
  const KNOWN_BAD = 'drop-when:driver.read#0';
  const MANIFEST = 'drop-forbid:guardrail.mfa-for-critical-changes#0';

  it('passes the unmutated set through every phase and kills a known-bad mutant with real requests', async () => {
    const report = await runMutation(source, {
      matrix: (dir) => judgeWithMatrix(dir),
      equivalents,
      ids: [KNOWN_BAD, MANIFEST],
    });
    expect(report.baseline.unexpected).toBe(0);
    expect(report.baseline.cells).toBeGreaterThan(1000);
    expect(report.baseline.phases.length).toBeGreaterThan(2);
    const of = (id: string) => report.mutants.find((m) => m.id === id);

    // Dropping the driver's `when` lets anyone read every vehicle: the matrix shows it in the seeded state.
    const bad = of(KNOWN_BAD);
    expect(bad).toMatchObject({ status: 'killed', killedBy: 'matrix', file: 'drivers.cedar', operator: 'drop-when' });
    expect(bad?.wrongCells).toBeGreaterThan(0);
    expect(bad?.phases).toEqual(['seeded']);

    // Deleting a required guardrail never reaches the matrix: the server refuses the policy set.
    expect(of(MANIFEST)).toMatchObject({ status: 'killed', killedBy: 'required-policy manifest' });
    expect(report.summary).toMatchObject({ killed: 2, survived: 0, score: 1, staleEquivalents: [] });
  }, 600_000);
});
