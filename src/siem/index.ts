/**
 * SIEM export: the audit trail as OCSF 1.3 records (docs/ocsf.md), streamed to a JSON-lines file and/or an HTTP
 * collector. It reads the trail only through the audit module's leaf-index tail, and owns one table, the per-sink
 * cursors (`siem_cursors`): in the database rather than a file so that any node of a cluster can take a sink over
 * from where the last holder stopped.
 */
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { AuditTailPage } from '../audit/index.js';
import type { Cluster } from '../cluster/index.js';
import type { Config } from '../config/index.js';
import type { Outbound } from '../outbound/index.js';
import { CarapaceError, type Clock, type Logger } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { openBacklog } from './backlog.js';
import { createCursorStore } from './cursor-store.js';
import { createFileLoop, createHttpLoop, type ExportDeps, type SinkLoop, type SinkStatus } from './exporter.js';
import { createFileSink } from './file-sink.js';
import { checkCollectorUrl, createHttpPoster } from './http-sink.js';
import { type OcsfOptions, toOcsf } from './ocsf.js';

export { siemMigrations } from './migrations.js';
export type { SiemTables } from './tables.js';
export { OCSF_VERSION, toOcsf, type OcsfOptions, type OcsfRecord } from './ocsf.js';
export { OCSF_CLASSES, OCSF_RULES, type OcsfRule, type OcsfClassName } from './ocsf-rules.js';
export type { SinkStatus } from './exporter.js';

/** The product version stamped into `metadata.product.version`. */
export const CARAPACE_VERSION = '0.1.0';

/** The running export: one loop per configured sink. */
export interface SiemExport {
  status(): SinkStatus[];
  /** Runs one round of every sink now. */
  runOnce(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
  /**
   * The first leaf some configured sink has not taken yet (null: no sink). Retention prunes only below it, so a
   * lagging or failing SIEM never loses an event to a prune.
   */
  pendingFrom(): Promise<number | null>;
}

/** Where the file sink writes (`audit.export.file.path`, or under the data directory). */
export function exportFilePath(config: Config): string {
  return config.audit.export.file.path ?? join(config.dataDir, 'audit', 'export', 'ocsf.jsonl');
}

function sinksOf(config: Config): ('file' | 'http')[] {
  const sinks = config.audit.export.sinks;
  for (const s of sinks)
    if (s !== 'file' && s !== 'http')
      throw new CarapaceError('ERR_CONFIG_INVALID', `audit.export.sinks: unknown sink "${s}" (file, http)`, {
        key: 'audit.export.sinks',
      });
  return [...new Set(sinks)] as ('file' | 'http')[];
}

function httpLoop(config: Config, deps: ExportDeps, outbound: Pick<Outbound, 'send' | 'checkUrlForm'>): SinkLoop {
  const http = config.audit.export.http;
  if (!http.url) throw new CarapaceError('ERR_CONFIG_INVALID', 'audit.export.http.url is required for the http sink');
  const url = checkCollectorUrl(http.url, outbound);
  const post = createHttpPoster(
    {
      url: url.href,
      format: http.format,
      authorization: process.env[http.authorizationEnv] || null,
      timeoutMs: http.timeout * 1000,
    },
    () => deps.clock.now().getTime(),
    outbound,
  );
  const backlog = openBacklog(join(config.dataDir, 'audit', 'export', 'http.backlog.jsonl'));
  return createHttpLoop(deps, { post, backlog, backlogMax: http.backlogMax });
}

/** Builds the export from `audit.export.*`; refuses a bad sink configuration at start. Nothing runs until start. */
export function createSiemExport(
  config: Config,
  deps: {
    db: Kysely<Database>;
    tail(afterLeaf: number, limit: number): Promise<AuditTailPage>;
    cluster: Pick<Cluster, 'reserve' | 'renew' | 'release'>;
    clock: Clock;
    log: Logger;
    /** The shared outbound layer: the collector is reached only through it. */
    outbound: Pick<Outbound, 'send' | 'checkUrlForm'>;
  },
): SiemExport {
  const e = config.audit.export;
  const shared: ExportDeps = {
    tail: deps.tail,
    cursors: createCursorStore(deps),
    cluster: deps.cluster,
    clock: deps.clock,
    log: deps.log.child({ module: 'siem' }),
    ocsf: { productVersion: CARAPACE_VERSION },
    settings: {
      intervalMs: e.interval * 1000,
      batchSize: e.batchSize,
      leaseTtlSeconds: Math.max(1, Math.round(e.leaseTtl)),
      retryBaseMs: e.http.retryBase * 1000,
      retryMaxMs: e.http.retryMax * 1000,
    },
  };
  const sinks = sinksOf(config);
  const loops = sinks.map((sink) =>
    sink === 'file'
      ? createFileLoop(shared, createFileSink({ ...e.file, path: exportFilePath(config) }, deps.clock))
      : httpLoop(config, shared, deps.outbound),
  );
  return {
    status: () => loops.map((l) => l.status()),
    runOnce: async () => {
      for (const l of loops) await l.round();
    },
    start: () => loops.forEach((l) => l.start()),
    stop: async () => {
      for (const l of loops) await l.stop();
    },
    pendingFrom: async () => {
      if (sinks.length === 0) return null;
      const cursors = await Promise.all(sinks.map((s) => shared.cursors.load(s)));
      return Math.min(...cursors) + 1;
    },
  };
}

/** OCSF JSON lines of the sealed events after `afterLeaf`, page by page (the CLI's one-off export). */
export async function* ocsfLines(
  tail: (afterLeaf: number, limit: number) => Promise<AuditTailPage>,
  options: { afterLeaf: number; limit: number; ocsf?: OcsfOptions },
): AsyncGenerator<string> {
  const ocsf = options.ocsf ?? { productVersion: CARAPACE_VERSION };
  let cursor = options.afterLeaf;
  let left = options.limit;
  while (left > 0) {
    const page = await tail(cursor, Math.min(left, 1000));
    if (page.events.length === 0) return;
    for (const e of page.events) yield JSON.stringify(toOcsf(e.event, e.leafIndex, ocsf));
    left -= page.events.length;
    cursor = page.cursor;
  }
}
