/**
 * The oracle's independence, checked from history. The matrix is only a second opinion if its expected
 * outcomes are not edited line for line with the Cedar policies they judge: a commit that changes both must
 * say why, either with an `Oracle-Change:` trailer in its message or with an entry in the change record
 * (docs/oracle-changes.md) made in the same commit. Older commits are recorded there by hash.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Files whose changes are policy changes. */
const POLICY = /^policies\/.+\.(cedar|cedarschema)$/;
/** Files that hold the oracle: the product-rules tables the matrix judges cells by. */
const ORACLE = /^src\/authz-matrix\/(oracle|admin-rules)\.ts$/;
/** The change record, where a reason is written when the commit message does not carry one. */
export const ORACLE_CHANGE_RECORD = 'docs/oracle-changes.md';
const TRAILER = /^Oracle-Change:\s*\S.{9,}$/im;

/** One commit (or the working tree) that changed a policy and the oracle together with no recorded reason. */
export interface UnexplainedOracleChange {
  commit: string;
  subject: string;
  policyFiles: string[];
  oracleFiles: string[];
}

const git = (repo: string, args: string[]) =>
  execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

/** Hashes (abbreviated or full) the change record lists, each with a reason after it. */
function recordedCommits(repo: string): string[] {
  let text: string;
  try {
    text = readFileSync(join(repo, ORACLE_CHANGE_RECORD), 'utf8');
  } catch {
    return [];
  }
  // A table row or a list item that starts with a hash and goes on to a reason: `| 1377e52 | why |`, `- 1377e52: why`.
  return [...text.matchAll(/^\s*[|-]\s*`?([0-9a-f]{7,40})`?\s*[|:]\s*\S.{9,}/gm)].map((m) => m[1] as string);
}

function judge(commit: string, subject: string, body: string, files: string[], recorded: string[]) {
  const policyFiles = files.filter((f) => POLICY.test(f));
  const oracleFiles = files.filter((f) => ORACLE.test(f));
  if (policyFiles.length === 0 || oracleFiles.length === 0) return null;
  if (TRAILER.test(body) || files.includes(ORACLE_CHANGE_RECORD)) return null;
  if (recorded.some((h) => commit.startsWith(h))) return null;
  return { commit, subject, policyFiles, oracleFiles };
}

/**
 * Every commit reachable from HEAD (merges excluded: their branches' commits are judged one by one), and the
 * uncommitted changes, that touched a policy file and the oracle together without a recorded reason.
 */
export function unexplainedOracleChanges(repo: string): UnexplainedOracleChange[] {
  const recorded = recordedCommits(repo);
  const log = git(repo, ['log', '--no-merges', '--format=%x01%H%x02%s%x02%B%x02', '--name-only', '--', '.']);
  const found: UnexplainedOracleChange[] = [];
  for (const entry of log.split('\x01').slice(1)) {
    const [commit = '', subject = '', body = '', names = ''] = entry.split('\x02');
    const files = names.split('\n').filter(Boolean);
    const bad = judge(commit, subject, body, files, recorded);
    if (bad) found.push(bad);
  }
  const pending = git(repo, ['diff', 'HEAD', '--name-only']).split('\n').filter(Boolean);
  const uncommitted = judge('(uncommitted)', 'changes in the working tree', '', pending, []);
  if (uncommitted) found.push(uncommitted);
  return found;
}
