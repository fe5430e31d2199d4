import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cell } from '../authz-matrix/index.js';
import { loadPolicySet, PolicySetError } from '../policy/index.js';
import type { MatrixJudge } from './matrix-server.js';
import { generateMutants, type Mutant, mutatedFiles, type MutationOperator } from './operators.js';
import type { PolicySource } from './policy-source.js';
import { actionCatalog } from './scope.js';

/** A reviewed equivalent mutant: no deployment could tell it from the original, and why. */
export interface EquivalentRecord {
  mutant: string;
  reason: string;
}

/**
 * What became of one mutant.
 * - `killed`: the matrix showed a wrong cell, or the server refused the policy set (the required-policy manifest).
 * - `survived`: the matrix passed; a blind spot unless it is recorded as equivalent.
 * - `equivalent`: survived, and reviewed as deciding every request exactly like the original.
 * - `invalid`: Cedar refused the mutated set (it does not validate), so it could never be deployed.
 * - `not-run`: only the admin plane decides its actions, and the admin matrix is not run by this command.
 */
export interface MutantResult {
  id: string;
  operator: MutationOperator;
  policyId: string;
  file: string;
  line: number;
  description: string;
  status: 'killed' | 'survived' | 'equivalent' | 'invalid' | 'not-run';
  killedBy?: 'matrix' | 'required-policy manifest';
  /** The wrong cells (first few), as `phase | persona route object: expected X, got Y`. */
  cells?: string[];
  wrongCells?: number;
  phases?: string[];
  reason?: string;
  ms: number;
}

/** The whole run: every mutant's fate, the score, and the equivalence records that no longer match. */
export interface MutationReport {
  baseline: { cells: number; unexpected: number; phases: string[] };
  mutants: MutantResult[];
  summary: {
    mutants: number;
    killed: number;
    survived: number;
    equivalent: number;
    invalid: number;
    notRun: number;
    /** killed / (killed + survived): the share of non-equivalent, deployable mutants the matrix catches. */
    score: number;
    /** Equivalence records naming no generated mutant, or a mutant that was killed (so it is not equivalent). */
    staleEquivalents: string[];
    ms: number;
  };
}

const cellLine = (c: Cell) =>
  `${c.phase} | ${c.persona} ${c.route} ${c.object}: expected ${String(c.expected)}, got ${String(c.observed)}` +
  (c.note ? ` (${c.note})` : '');

/** Writes a mutant's policy files to a fresh temporary directory. */
function writeMutant(source: PolicySource, mutant: Mutant): string {
  const dir = mkdtempSync(join(tmpdir(), 'carapace-mutant-policies-'));
  for (const [f, text] of mutatedFiles(source, mutant)) writeFileSync(join(dir, f), text);
  return dir;
}

/** Judges one mutant: the loader first (what startup would refuse), then the matrix on a server of its own. */
async function judge(
  source: PolicySource,
  mutant: Mutant,
  matrix: MatrixJudge,
  isAdmin: (action: string) => boolean,
): Promise<Omit<MutantResult, 'id' | 'operator' | 'policyId' | 'file' | 'line' | 'description' | 'ms'>> {
  const dir = writeMutant(source, mutant);
  try {
    try {
      loadPolicySet(dir);
    } catch (err) {
      if (!(err instanceof PolicySetError)) throw err;
      if (err.message.startsWith('required policies are missing'))
        return { status: 'killed', killedBy: 'required-policy manifest', reason: err.problems.join('; ') };
      return { status: 'invalid', reason: `${err.message.split(':')[0]}: ${err.problems.join('; ').slice(0, 300)}` };
    }
    // Cedar evaluates a policy only for requests its scope matches, so only these actions can decide differently.
    if (!mutant.actions.some((a) => !isAdmin(a)))
      return {
        status: 'not-run',
        reason:
          `only admin-plane actions (${mutant.actions.join(', ')}); ` +
          'the admin matrix runs in test/authz-matrix-admin.e2e.test.ts',
      };
    const verdict = await matrix(dir);
    if (verdict.failedEvent)
      return { status: 'killed', killedBy: 'matrix', wrongCells: 0, cells: [verdict.failedEvent], phases: [] };
    if (verdict.unexpected.length > 0)
      return {
        status: 'killed',
        killedBy: 'matrix',
        wrongCells: verdict.unexpected.length,
        cells: verdict.unexpected.slice(0, 5).map(cellLine),
        phases: verdict.phases,
      };
    const adminToo = mutant.actions.filter(isAdmin);
    return {
      status: 'survived',
      phases: verdict.phases,
      ...(adminToo.length ? { reason: `its admin-plane actions (${adminToo.join(', ')}) were not judged` } : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Generates the mutants of a policy directory and judges each one. The unmutated set is judged first: a matrix that
 * already fails says nothing about mutants, so the run stops there.
 */
export async function runMutation(
  source: PolicySource,
  deps: {
    matrix: MatrixJudge;
    equivalents: readonly EquivalentRecord[];
    only?: readonly MutationOperator[];
    /** Judge only the first N mutants (after --only and --mutant). */
    limit?: number;
    /** Judge only these mutant ids. */
    ids?: readonly string[];
    log?: (line: string) => void;
    now?: () => number;
  },
): Promise<MutationReport> {
  const now = deps.now ?? Date.now;
  const log = deps.log ?? (() => undefined);
  const started = now();
  const catalog = actionCatalog(source.schema);
  const all = generateMutants(source, { only: deps.only });
  let chosen = deps.ids ? all.filter((m) => deps.ids?.includes(m.id)) : all;
  if (deps.limit !== undefined) chosen = chosen.slice(0, deps.limit);
  const base = await deps.matrix(source.dir);
  log(`baseline: ${base.cells} cells, ${base.unexpected.length} unexpected`);
  if (base.failedEvent) throw new Error(`the unmutated policies already fail the matrix: ${base.failedEvent}`);
  if (base.unexpected.length > 0)
    throw new Error(
      `the unmutated policies already fail the matrix: ${base.unexpected.slice(0, 3).map(cellLine).join('; ')}`,
    );
  const equivalent = new Map(deps.equivalents.map((e) => [e.mutant, e.reason]));
  const results: MutantResult[] = [];
  for (const [i, m] of chosen.entries()) {
    const t = now();
    const verdict = await judge(source, m, deps.matrix, catalog.isAdmin);
    const reviewed = equivalent.get(m.id);
    const r: MutantResult = {
      id: m.id,
      operator: m.operator,
      policyId: m.policyId,
      file: m.file,
      line: m.line,
      description: m.description,
      ...verdict,
      ...(verdict.status === 'survived' && reviewed !== undefined ? { status: 'equivalent', reason: reviewed } : {}),
      ms: now() - t,
    };
    results.push(r);
    log(`[${i + 1}/${chosen.length}] ${r.status.padEnd(10)} ${r.id} (${r.file}:${r.line})`);
  }
  const count = (s: MutantResult['status']) => results.filter((r) => r.status === s).length;
  const killed = count('killed');
  const survived = count('survived');
  // Against every mutant, not only the chosen operators: --only must not make a record look stale.
  const ids = new Set(generateMutants(source).map((m) => m.id));
  const killedIds = new Set(results.filter((r) => r.status === 'killed').map((r) => r.id));
  return {
    baseline: { cells: base.cells, unexpected: base.unexpected.length, phases: base.phases },
    mutants: results,
    summary: {
      mutants: results.length,
      killed,
      survived,
      equivalent: count('equivalent'),
      invalid: count('invalid'),
      notRun: count('not-run'),
      score: killed + survived === 0 ? 1 : killed / (killed + survived),
      staleEquivalents: deps.equivalents
        .filter((e) => !ids.has(e.mutant) || killedIds.has(e.mutant))
        .map((e) => e.mutant),
      ms: now() - started,
    },
  };
}

/** The report as a person reads it: one line per mutant that is not simply killed, then the score. */
export function formatMutationReport(report: MutationReport): string {
  const s = report.summary;
  const lines: string[] = [];
  for (const r of report.mutants) {
    const where = `${r.file}:${r.line}`;
    if (r.status === 'killed')
      lines.push(`KILLED     ${r.id} ${where} by ${r.killedBy}${r.cells?.[0] ? `: ${r.cells[0]}` : ''}`);
    else
      lines.push(
        `${r.status.toUpperCase().padEnd(10)} ${r.id} ${where}: ${r.description}${r.reason ? ` (${r.reason})` : ''}`,
      );
  }
  for (const id of s.staleEquivalents)
    lines.push(`STALE      equivalence record ${id}: no such mutant, or it was killed`);
  lines.push(
    `authz-mutate: score=${(s.score * 100).toFixed(1)}% killed=${s.killed} survived=${s.survived} ` +
      `equivalent=${s.equivalent} invalid=${s.invalid} not-run=${s.notRun} mutants=${s.mutants} ` +
      `seconds=${Math.round(s.ms / 1000)}`,
  );
  return `${lines.join('\n')}\n`;
}
