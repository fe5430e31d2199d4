import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Cell } from '../authz-matrix/index.js';
import type { MatrixJudge, MatrixVerdict } from './matrix-server.js';
import { readPolicySource } from './policy-source.js';
import { runMutation } from './runner.js';

// The runner's bookkeeping on the shipped policies, judged by a scripted matrix: the real matrix is slow and is
// exercised end to end in test/authz-mutate.e2e.test.ts. The loader (validation, the required-policy manifest) is real.
const source = readPolicySource('policies');
const KNOWN_BAD = 'drop-when:driver.read#0';
const EQUIVALENT = 'widen-action:guardrail.step-up-commands#0';
const MANIFEST = 'drop-forbid:guardrail.mfa-for-critical-changes#0';
const PHASES = ['seeded', 'after-events'];

const wrongCell: Cell = {
  phase: 'seeded',
  persona: 'mallory',
  action: 'vehicle:read',
  route: 'GET /v1/vehicles/{id}',
  object: 'car-1',
  expected: 404,
  observed: 'allowed',
  relations: [],
  unexpected: true,
  unreached: false,
};

/** A matrix that sees any change to drivers.cedar and nothing else; `baseline` is what the unmutated set gets. */
function scriptedMatrix(baseline: Partial<MatrixVerdict> = {}): MatrixJudge & { runs: string[] } {
  const original = readFileSync(join(source.dir, 'drivers.cedar'), 'utf8');
  const runs: string[] = [];
  const judge = async (dir: string): Promise<MatrixVerdict> => {
    runs.push(dir);
    if (dir === source.dir) return { unexpected: [], phases: PHASES, cells: 10, ...baseline };
    const changed = readFileSync(join(dir, 'drivers.cedar'), 'utf8') !== original;
    return { unexpected: changed ? [wrongCell] : [], phases: changed ? ['seeded'] : PHASES, cells: 10 };
  };
  return Object.assign(judge, { runs });
}

describe('mutation runner', () => {
  const reason = 'no request can tell it apart';

  it('scores killed over killed plus survived; a reviewed survivor is equivalent and leaves the score', async () => {
    const matrix = scriptedMatrix();
    const report = await runMutation(source, {
      matrix,
      equivalents: [{ mutant: EQUIVALENT, reason }],
      ids: [KNOWN_BAD, EQUIVALENT, MANIFEST],
    });
    const of = (id: string) => report.mutants.find((m) => m.id === id);
    expect(of(KNOWN_BAD)).toMatchObject({ status: 'killed', killedBy: 'matrix', wrongCells: 1, phases: ['seeded'] });
    expect(of(KNOWN_BAD)?.cells?.[0]).toContain('expected 404, got allowed');
    expect(of(EQUIVALENT)).toMatchObject({ status: 'equivalent', reason, phases: PHASES });
    // The manifest refuses the set before any server could start: the judge never sees that mutant.
    expect(of(MANIFEST)).toMatchObject({ status: 'killed', killedBy: 'required-policy manifest' });
    expect(matrix.runs).toHaveLength(3);
    expect(report.summary).toMatchObject({ killed: 2, survived: 0, equivalent: 1, score: 1, staleEquivalents: [] });
  });

  it('reports an unrecorded survivor as survived, and counts it against the score', async () => {
    const report = await runMutation(source, {
      matrix: scriptedMatrix(),
      equivalents: [],
      ids: [KNOWN_BAD, EQUIVALENT],
    });
    expect(report.mutants.map((m) => m.status)).toEqual(['killed', 'survived']);
    expect(report.summary.score).toBe(0.5);
  });

  it('flags a record for a killed mutant, or for one no operator generates, as stale', async () => {
    const report = await runMutation(source, {
      matrix: scriptedMatrix(),
      equivalents: [
        { mutant: KNOWN_BAD, reason },
        { mutant: 'drop-when:no.such-policy#0', reason },
      ],
      ids: [KNOWN_BAD],
    });
    expect(report.mutants[0]?.status).toBe('killed');
    expect(report.summary.staleEquivalents.sort()).toEqual(['drop-when:no.such-policy#0', KNOWN_BAD].sort());
  });

  it('refuses to judge mutants when the unmutated policies already fail the matrix', async () => {
    await expect(
      runMutation(source, { matrix: scriptedMatrix({ unexpected: [wrongCell] }), equivalents: [], ids: [KNOWN_BAD] }),
    ).rejects.toThrow(/unmutated policies already fail the matrix/);
    await expect(
      runMutation(source, { matrix: scriptedMatrix({ failedEvent: 'matrix event POST x failed' }), equivalents: [] }),
    ).rejects.toThrow(/already fail the matrix: matrix event/);
  });
});
