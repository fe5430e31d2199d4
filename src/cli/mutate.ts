import { type Command, InvalidArgumentError, Option } from 'commander';
import { writeFileSync } from 'node:fs';
import {
  DEFAULT_EQUIVALENTS,
  formatMutationReport,
  judgeWithMatrix,
  MUTATION_OPERATORS,
  type MutationOperator,
  readEquivalents,
  readPolicySource,
  runMutation,
} from '../authz-mutate/index.js';
import { DEFAULT_POLICY_DIR } from '../policy/index.js';

interface MutateOptions {
  policies: string;
  equivalents: string;
  only?: MutationOperator[];
  limit?: number;
  mutant?: string[];
  json?: boolean;
  report?: string;
}

const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a positive integer');
  return n;
};

/** `carapace authz mutate`: mutation testing of the policy set against the authorization matrix. */
export function registerMutate(program: Command): void {
  const authz = program.command('authz').description('Authorization evidence for the policy set.');
  authz
    .command('mutate')
    .description(
      'Generate mutants of the policy set (drop a when/unless, widen an action list, delete a forbid, swap == and ' +
        '!=, neutralize a guardrail) and run the public authorization matrix against each on a throwaway server. ' +
        'Prints the mutation score; exits 1 when a mutant that is not recorded as equivalent survives.',
    )
    .option('--policies <dir>', 'the policy directory to mutate', DEFAULT_POLICY_DIR)
    .option('--equivalents <file>', 'reviewed equivalent mutants, with a reason each', DEFAULT_EQUIVALENTS)
    .addOption(new Option('--only <operator...>', 'only these operators').choices([...MUTATION_OPERATORS]))
    .option('--limit <n>', 'judge only the first n mutants', positive)
    .option('--mutant <id...>', 'judge only these mutants (ids as the report prints them)')
    .option('--json', 'print the report as JSON instead of text')
    .option('--report <file>', 'also write the JSON report to a file')
    .action(async (opts: MutateOptions) => {
      const report = await runMutation(readPolicySource(opts.policies), {
        matrix: (dir) => judgeWithMatrix(dir),
        equivalents: readEquivalents(opts.equivalents),
        only: opts.only,
        limit: opts.limit,
        ids: opts.mutant,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      if (opts.report) writeFileSync(opts.report, `${JSON.stringify(report, null, 2)}\n`);
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatMutationReport(report));
      if (report.summary.survived > 0 || report.summary.staleEquivalents.length > 0) process.exitCode = 1;
    });
}
