import { randomUUID } from 'node:crypto';
import type { AuditTailPage } from '../audit/index.js';
import type { Cluster } from '../cluster/index.js';
import type { Clock, Logger } from '../platform/index.js';
import type { Backlog } from './backlog.js';
import type { CursorStore } from './cursor-store.js';
import type { FileSink } from './file-sink.js';
import type { PostResult } from './http-sink.js';
import { type OcsfOptions, toOcsf } from './ocsf.js';

/** What one sink reports: for logs, /readyz details and (later) metrics. Never holds a credential. */
export interface SinkStatus {
  sink: 'file' | 'http';
  /** This node holds the sink's export lease. */
  leaseHeld: boolean;
  /** Last leaf delivered (the persisted cursor, as this node last saw it). */
  cursor: number;
  exported: number;
  backlog: number | null;
  backlogMax: number | null;
  /** The backlog is full: the exporter has stopped reading the trail until the collector drains it. */
  backpressure: boolean;
  consecutiveFailures: number;
  lastError: string | null;
}

/** Shared settings of every sink (`audit.export.*`). */
export interface ExportLoopSettings {
  intervalMs: number;
  batchSize: number;
  leaseTtlSeconds: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

/** The dependencies every sink loop shares. */
export interface ExportDeps {
  tail(afterLeaf: number, limit: number): Promise<AuditTailPage>;
  cursors: CursorStore;
  cluster: Pick<Cluster, 'reserve' | 'renew' | 'release'>;
  clock: Clock;
  log: Logger;
  ocsf: OcsfOptions;
  settings: ExportLoopSettings;
}

/** One sink's export loop. */
export interface SinkLoop {
  status(): SinkStatus;
  /** Runs one round now (tests and the loop itself). */
  round(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

/** Pages a round reads at most, so one round never holds the lease for long. */
const PAGES_PER_ROUND = 20;

/** A per-sink lease through the cluster adapter: one node exports a sink at a time; renewed while held. */
function createLease(deps: ExportDeps, sink: string) {
  const key = `siem:export:${sink}`;
  const token = randomUUID();
  let held = false;
  return {
    token,
    get held() {
      return held;
    },
    async hold(): Promise<boolean> {
      const ttl = deps.settings.leaseTtlSeconds;
      if (held && (await deps.cluster.renew(key, token, ttl))) return true;
      held = (await deps.cluster.reserve(key, token, ttl)).reserved;
      return held;
    },
    async release(): Promise<void> {
      if (held) await deps.cluster.release(key, token);
      held = false;
    },
  };
}

/** Full jitter: a random delay up to base x 2^(failures-1), capped; a collector's Retry-After wins, capped too. */
export function retryDelayMs(failures: number, retryAfterMs: number | null, s: ExportLoopSettings): number {
  if (retryAfterMs !== null) return Math.min(retryAfterMs, s.retryMaxMs);
  const ceiling = Math.min(s.retryMaxMs, s.retryBaseMs * 2 ** Math.min(failures - 1, 30));
  return Math.max(s.retryBaseMs / 2, Math.random() * ceiling);
}

/** The timer, status and lease every sink shares; `work` is the sink's own round. */
function loop(deps: ExportDeps, status: SinkStatus, work: (lease: ReturnType<typeof createLease>) => Promise<void>) {
  const lease = createLease(deps, status.sink);
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();
  let stopped = true;
  const round = () => {
    running = running.then(async () => {
      try {
        await work(lease);
      } catch (err) {
        status.lastError = (err as Error).message.slice(0, 200);
        deps.log.error({ err, sink: status.sink }, 'SIEM export round failed');
      }
      status.leaseHeld = lease.held;
    });
    return running;
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void round().finally(schedule), deps.settings.intervalMs);
    timer.unref();
  };
  return {
    lease,
    loop: {
      status: () => ({ ...status }),
      round,
      start() {
        if (!stopped) return;
        stopped = false;
        schedule();
      },
      async stop() {
        stopped = true;
        if (timer) clearTimeout(timer);
        await running;
        await lease.release().catch(() => undefined);
      },
    } satisfies SinkLoop,
  };
}

const lineOf = (deps: ExportDeps) => (e: AuditTailPage['events'][number]) =>
  JSON.stringify(toOcsf(e.event, e.leafIndex, deps.ocsf));

/** The file sink's loop: read a page, append and fsync it, then advance the cursor (a crash between: duplicates). */
export function createFileLoop(deps: ExportDeps, file: FileSink): SinkLoop {
  const status: SinkStatus = {
    sink: 'file',
    leaseHeld: false,
    cursor: -1,
    exported: 0,
    backlog: null,
    backlogMax: null,
    backpressure: false,
    consecutiveFailures: 0,
    lastError: null,
  };
  const toLine = lineOf(deps);
  const { loop: l } = loop(deps, status, async (lease) => {
    for (let page = 0; page < PAGES_PER_ROUND; page++) {
      if (!(await lease.hold())) return;
      const cursor = await deps.cursors.load('file');
      const read = await deps.tail(cursor, deps.settings.batchSize);
      status.cursor = cursor;
      if (read.events.length === 0) return;
      file.write(read.events.map(toLine));
      await deps.cursors.advance('file', read.cursor, lease.token);
      status.cursor = read.cursor;
      status.exported += read.events.length;
    }
  });
  return { ...l, stop: async () => (await l.stop(), file.close()) };
}

/** Settings of the HTTP loop beyond the shared ones. */
export interface HttpLoopOptions {
  post(lines: string[]): Promise<PostResult>;
  backlog: Backlog;
  backlogMax: number;
}

/**
 * The HTTP sink's loop. Fill: read the trail into the on-disk backlog while it has room; when it is full the read
 * cursor stops (backpressure) and nothing is dropped. Drain: POST the backlog's head in batches; on success advance
 * the persisted cursor, then forget the batch; on failure wait (exponential backoff with jitter, or Retry-After).
 */
export function createHttpLoop(deps: ExportDeps, opts: HttpLoopOptions): SinkLoop {
  const status: SinkStatus = {
    sink: 'http',
    leaseHeld: false,
    cursor: -1,
    exported: 0,
    backlog: opts.backlog.size,
    backlogMax: opts.backlogMax,
    backpressure: false,
    consecutiveFailures: 0,
    lastError: null,
  };
  const { backlog } = opts;
  const toLine = lineOf(deps);
  let nextAttemptAt = 0;

  const fill = async (delivered: number) => {
    backlog.reconcile(delivered);
    let read = backlog.last() ?? delivered;
    for (let page = 0; page < PAGES_PER_ROUND && backlog.size < opts.backlogMax; page++) {
      const got = await deps.tail(read, Math.min(deps.settings.batchSize, opts.backlogMax - backlog.size));
      if (got.events.length === 0) break;
      backlog.append(got.events.map((e) => ({ leaf: e.leafIndex, line: toLine(e) })));
      read = got.cursor;
    }
    const full = backlog.size >= opts.backlogMax;
    if (full !== status.backpressure) {
      if (full) deps.log.warn({ sink: 'http', backlog: backlog.size, cursor: read }, 'SIEM backlog full: backpressure');
      else deps.log.info({ sink: 'http', backlog: backlog.size }, 'SIEM backlog has room again: reading resumes');
    }
    status.backpressure = full;
    status.backlog = backlog.size;
  };

  const drain = async (lease: ReturnType<typeof createLease>) => {
    for (let page = 0; page < PAGES_PER_ROUND && backlog.size > 0; page++) {
      if (deps.clock.now().getTime() < nextAttemptAt) return;
      const batch = backlog.head(deps.settings.batchSize);
      const res = await opts.post(batch.map((e) => e.line));
      if (!res.ok) {
        status.consecutiveFailures++;
        status.lastError = res.error;
        const delay = retryDelayMs(status.consecutiveFailures, res.retryAfterMs, deps.settings);
        nextAttemptAt = deps.clock.now().getTime() + delay;
        const failures = status.consecutiveFailures;
        deps.log.warn({ sink: 'http', error: res.error, retryInMs: Math.round(delay), failures }, 'SIEM POST failed');
        return;
      }
      const last = batch.at(-1)!.leaf;
      await deps.cursors.advance('http', last, lease.token);
      backlog.dropThrough(last);
      Object.assign(status, { cursor: last, consecutiveFailures: 0, lastError: null, backlog: backlog.size });
      status.exported += batch.length;
      if (!(await lease.hold())) return;
    }
  };

  const { loop: l } = loop(deps, status, async (lease) => {
    if (!(await lease.hold())) return;
    const delivered = await deps.cursors.load('http');
    status.cursor = delivered;
    await fill(delivered);
    await drain(lease);
    // Room was made: read on in the same round, so a drained backlog lifts backpressure at once.
    if (backlog.size < opts.backlogMax) await fill(status.cursor);
  });
  return l;
}
