import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Kysely } from 'kysely';
import type { RequestContext } from '../audit/index.js';
import { CarapaceError, type Clock, type Logger } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { ConsoleAuditLog } from './audit-events.js';

/** The CLI, from src/console and dist/console alike; it runs the compiled dist/cli. */
const CLI = fileURLToPath(new URL('../../bin/carapace.js', import.meta.url));
/** The most output lines a run keeps (its progress), and the longest line: a run's log is for reading, not storage. */
const KEEP_LINES = 40;
const LINE_CHARS = 300;
/** A run that takes longer is stopped: the seeded matrix takes minutes, never hours. */
const RUN_TIMEOUT_MS = 30 * 60_000;

/** A configured target: a name the console sends, and the public URL only the configuration holds. */
export interface MatrixTarget {
  name: string;
  url: string;
}

/** What a run is doing or did; `completed` means a report was written (exit code 1: it has unexpected cells). */
export interface MatrixRun {
  id: string;
  target: string;
  startedBy: string;
  startedAt: string;
  state: 'running' | 'completed' | 'failed';
  finishedAt: string | null;
  exitCode: number | null;
  /** The CLI's last output lines (its progress), newest last. */
  output: string[];
  outputLines: number;
}

/** One matrix run at a time on this node, as a child process of the CLI (`carapace authz-matrix`, no --mutate). */
export interface MatrixRuns {
  targets(): string[];
  current(): MatrixRun | null;
  start(args: { target: string; operator: string; context: RequestContext }): Promise<MatrixRun>;
  /** Stops a run in progress (at shutdown). */
  stop(): void;
}

/** Parses `name=https://host:port` entries; a malformed one stops the start (a typo must not probe elsewhere). */
export function parseMatrixTargets(entries: readonly string[]): MatrixTarget[] {
  return entries.map((e) => {
    const m = /^([a-z0-9][a-z0-9-]{0,39})=(https:\/\/[^\s]+)$/.exec(e);
    let url: URL | null = null;
    try {
      url = m ? new URL(m[2]!) : null;
    } catch {
      url = null;
    }
    if (!m || !url || url.username || url.password)
      throw new CarapaceError('ERR_CONFIG_INVALID', 'inventory.matrixTargets: each entry is name=https://host:port', {
        entry: e.slice(0, 80),
      });
    return { name: m[1]!, url: url.origin };
  });
}

/** Whether a file holds a matrix report (a summary with a cell count): only then does it replace the last one. */
function isReport(file: string): boolean {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as { summary?: { cells?: unknown } };
    return typeof r.summary?.cells === 'number';
  } catch {
    return false;
  }
}

/** The runs over a child process each, audited; the report replaces `reportFile` only once it is complete. */
export function createMatrixRuns(deps: {
  db: Kysely<Database>;
  audit: ConsoleAuditLog;
  clock: Clock;
  log: Logger;
  targets: readonly MatrixTarget[];
  scenario: string;
  ca: string;
  partnerKeysDir: string;
  reportFile: string;
}): MatrixRuns {
  let run: MatrixRun | null = null;
  let child: ChildProcess | null = null;

  const keep = (r: MatrixRun, chunk: string) => {
    for (const line of chunk.split('\n').filter((l) => l.trim())) {
      r.output.push(line.slice(0, LINE_CHARS));
      r.outputLines += 1;
    }
    r.output.splice(0, Math.max(0, r.output.length - KEEP_LINES));
  };

  const finish = async (r: MatrixRun, tmp: string, code: number | null) => {
    const wrote = (code === 0 || code === 1) && isReport(tmp);
    if (wrote) renameSync(tmp, deps.reportFile);
    else rmSync(tmp, { force: true });
    Object.assign(r, {
      state: wrote ? 'completed' : 'failed',
      exitCode: code,
      finishedAt: deps.clock.now().toISOString(),
    });
    child = null;
    await deps.audit.append(deps.db, {
      type: 'console.matrix_run.finished',
      actor: { type: 'system' },
      object: { type: 'matrix_run', id: r.id },
      action: 'authz_matrix:run',
      decision: 'info',
      reason: wrote ? 'report written' : 'no report',
      details: { target: r.target, exitCode: code, reportWritten: wrote },
    });
  };

  return {
    targets: () => deps.targets.map((t) => t.name),
    current: () => (run ? { ...run, output: [...run.output] } : null),
    async start({ target, operator, context }) {
      const t = deps.targets.find((x) => x.name === target);
      if (!t) throw new CarapaceError('ERR_VALIDATION', 'no such matrix target is configured', { field: 'target' });
      if (run?.state === 'running')
        throw new CarapaceError('ERR_CONFLICT', `a matrix run is in progress (started by ${run.startedBy})`);
      const id = randomUUID();
      const r: MatrixRun = {
        id,
        target: t.name,
        startedBy: operator,
        startedAt: deps.clock.now().toISOString(),
        state: 'running',
        finishedAt: null,
        exitCode: null,
        output: [],
        outputLines: 0,
      };
      await deps.audit.append(deps.db, {
        type: 'console.matrix_run.started',
        actor: { type: 'operator', id: operator },
        object: { type: 'matrix_run', id },
        action: 'authz_matrix:run',
        decision: 'allow',
        context,
        details: { target: t.name, url: t.url },
      });
      run = r;
      const tmp = `${deps.reportFile}.${id}.tmp`;
      // Read-only: never --mutate. Every argument comes from the configuration; the request named only the target.
      const args = [CLI, 'authz-matrix', '--scenario', deps.scenario, '--report', tmp, '--url', t.url];
      args.push('--ca', deps.ca, '--partner-keys', deps.partnerKeysDir);
      const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: RUN_TIMEOUT_MS });
      child = c;
      c.stdout?.setEncoding('utf8').on('data', (d: string) => keep(r, d));
      c.stderr?.setEncoding('utf8').on('data', (d: string) => keep(r, d));
      // A child that could not start may report only 'error', one that ran reports 'close': the run ends once.
      let ended = false;
      const end = (code: number | null) => {
        if (ended) return;
        ended = true;
        finish(r, tmp, code).catch((err: unknown) => deps.log.error({ err }, 'matrix run end not recorded'));
      };
      c.on('error', (err) => {
        keep(r, `carapace authz-matrix failed: ${err.message}`);
        if (c.exitCode === null && c.pid === undefined) end(null);
      });
      c.on('close', (code) => end(code));
      return { ...r, output: [] };
    },
    stop() {
      child?.kill('SIGTERM');
    },
  };
}
