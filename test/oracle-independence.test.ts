import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ORACLE_CHANGE_RECORD, unexplainedOracleChanges } from '../src/authz-matrix/index.js';

const ROOT = join(import.meta.dirname, '..');

describe('the oracle is not edited alongside the policies without a recorded reason', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A scratch repository with a policy file, the oracle and the change record, as this one has. */
  const scratch = () => {
    const dir = mkdtempSync(join(tmpdir(), 'carapace-oracle-'));
    dirs.push(dir);
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
        encoding: 'utf8',
      }).trim();
    git('init', '-q');
    mkdirSync(join(dir, 'policies'));
    mkdirSync(join(dir, 'src/authz-matrix'), { recursive: true });
    mkdirSync(join(dir, 'docs'));
    writeFileSync(join(dir, 'policies/owners.cedar'), 'permit (principal, action, resource);\n');
    writeFileSync(join(dir, 'src/authz-matrix/oracle.ts'), 'export const PERMITS = {};\n');
    writeFileSync(join(dir, ORACLE_CHANGE_RECORD), '| commit | why |\n|---|---|\n');
    git('add', '-A');
    git('commit', '-qm', 'start');
    const change = (...files: string[]) => {
      for (const f of files) appendFileSync(join(dir, f), '// changed\n');
    };
    const commit = (message: string) => {
      git('add', '-A');
      git('commit', '-qm', message);
      return git('rev-parse', 'HEAD');
    };
    return { dir, change, commit };
  };

  it('holds for this repository: every commit that changed both says why', () => {
    const inside = execFileSync('git', ['-C', ROOT, 'rev-parse', '--is-inside-work-tree'], { encoding: 'utf8' });
    expect(inside.trim(), 'the check reads git history: run the suite in a git clone').toBe('true');
    expect(unexplainedOracleChanges(ROOT)).toEqual([]);
  });

  it('flags a commit that changes a policy and the oracle together with no reason, and names both files', () => {
    const r = scratch();
    r.change('policies/owners.cedar', 'src/authz-matrix/oracle.ts');
    const hash = r.commit('widen owners and the oracle with it');
    expect(unexplainedOracleChanges(r.dir)).toEqual([
      {
        commit: hash,
        subject: 'widen owners and the oracle with it',
        policyFiles: ['policies/owners.cedar'],
        oracleFiles: ['src/authz-matrix/oracle.ts'],
      },
    ]);
  });

  it('accepts a reason as a trailer, as a row in the same commit, or as a later row naming the commit', () => {
    const r = scratch();
    r.change('policies/owners.cedar', 'src/authz-matrix/oracle.ts');
    r.commit('owners may now read diagnostics\n\nOracle-Change: the product rule changed in issue 42, see README');
    r.change('policies/owners.cedar', 'src/authz-matrix/oracle.ts', ORACLE_CHANGE_RECORD);
    r.commit('dealers: the rule and the oracle, recorded');
    r.change('policies/owners.cedar', 'src/authz-matrix/oracle.ts');
    const late = r.commit('an old change');
    expect(unexplainedOracleChanges(r.dir).map((c) => c.commit)).toEqual([late]);
    appendFileSync(join(r.dir, ORACLE_CHANGE_RECORD), `| ${late.slice(0, 7)} | the rule changed after a review |\n`);
    r.commit('record the reason for the old change');
    expect(unexplainedOracleChanges(r.dir)).toEqual([]);
  });

  it('a trailer or row with no real reason does not count, and a change to only one side is never flagged', () => {
    const r = scratch();
    r.change('policies/owners.cedar', 'src/authz-matrix/oracle.ts');
    const empty = r.commit('both\n\nOracle-Change: ok');
    r.change('policies/owners.cedar');
    r.commit('only the policy');
    r.change('src/authz-matrix/oracle.ts');
    r.commit('only the oracle');
    expect(unexplainedOracleChanges(r.dir).map((c) => c.commit)).toEqual([empty]);
  });

  it('flags uncommitted changes to both, so the reason is written before the commit', () => {
    const r = scratch();
    r.change('policies/owners.cedar', 'src/authz-matrix/oracle.ts');
    expect(unexplainedOracleChanges(r.dir).map((c) => c.commit)).toEqual(['(uncommitted)']);
    r.change(ORACLE_CHANGE_RECORD);
    expect(unexplainedOracleChanges(r.dir)).toEqual([]);
  });
});
