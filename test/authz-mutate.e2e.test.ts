import { describe, expect, it } from 'vitest';
import {
  DEFAULT_EQUIVALENTS,
  judgeWithMatrix,
  readEquivalents,
  readPolicySource,
  runMutation,
} from '../src/authz-mutate/index.js';

// Each mutant is judged by the real public matrix on a server of its own (SQLite, loopback TLS), as the CLI does.
describe('policy mutation testing against the authorization matrix', () => {
  const source = readPolicySource('policies');
  const equivalents = readEquivalents(DEFAULT_EQUIVALENTS);
  const KNOWN_BAD = 'drop-when:driver.read#0';
  const EQUIVALENT = 'widen-action:guardrail.step-up-commands#0';
  const MANIFEST = 'drop-forbid:guardrail.mfa-for-critical-changes#0';

  it('kills a known-bad mutant, reports a reviewed equivalent one as such, and scores only the others', async () => {
    const report = await runMutation(source, {
      matrix: (dir) => judgeWithMatrix(dir),
      equivalents,
      ids: [KNOWN_BAD, EQUIVALENT, MANIFEST],
    });
    expect(report.baseline.unexpected).toBe(0);
    const of = (id: string) => report.mutants.find((m) => m.id === id);

    // Dropping the driver's `when` lets anyone read every vehicle: the matrix shows it in the seeded state.
    const bad = of(KNOWN_BAD);
    expect(bad).toMatchObject({ status: 'killed', killedBy: 'matrix', file: 'drivers.cedar', operator: 'drop-when' });
    expect(bad?.wrongCells).toBeGreaterThan(0);
    expect(bad?.phases).toEqual(['seeded']);

    // The equivalent mutant ran through every phase, found nothing, and carries its reviewed reason.
    const eq = of(EQUIVALENT);
    expect(eq?.status).toBe('equivalent');
    expect(eq?.reason).toContain('stepUp');
    expect(eq?.phases).toEqual(report.baseline.phases);

    // Deleting a required guardrail never reaches the matrix: the server refuses the policy set.
    expect(of(MANIFEST)).toMatchObject({ status: 'killed', killedBy: 'required-policy manifest' });

    expect(report.summary).toMatchObject({ killed: 2, survived: 0, equivalent: 1, score: 1, staleEquivalents: [] });
  }, 600_000);

  it('reports the same equivalent mutant as a survivor when nobody recorded it', async () => {
    const report = await runMutation(source, {
      matrix: (dir) => judgeWithMatrix(dir),
      equivalents: [],
      ids: [EQUIVALENT],
    });
    expect(report.mutants.map((m) => m.status)).toEqual(['survived']);
    expect(report.summary.score).toBe(0);
  }, 600_000);
});
