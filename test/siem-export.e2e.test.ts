import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { httpsRequest } from '../src/vehicle-sdk/index.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli/main.ts')];
const SECRET = `Bearer siem-${randomUUID()}`;
const AUTH_ENV = 'TEST_SIEM_AUTHORIZATION';

type Mode = { kind: 'ok' } | { kind: 'status'; status: number; retryAfter?: string };

/** The SIEM: a real HTTP collector on loopback that records every OCSF record by id, or fails as told. */
function collector(port: number) {
  const received = new Map<string, number>();
  const attempts: { at: number; status: number; authorization: string | undefined }[] = [];
  let mode: Mode = { kind: 'ok' };
  let server: Server | null = null;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = mode.kind === 'ok' ? 200 : mode.status;
      attempts.push({ at: Date.now(), status, authorization: req.headers.authorization });
      if (mode.kind === 'status') {
        res.writeHead(status, mode.retryAfter ? { 'retry-after': mode.retryAfter } : {}).end();
        return;
      }
      for (const r of JSON.parse(Buffer.concat(chunks).toString('utf8')) as { metadata: { uid: string } }[])
        received.set(r.metadata.uid, (received.get(r.metadata.uid) ?? 0) + 1);
      res.writeHead(200).end('{}');
    });
  };
  return {
    received,
    attempts,
    set: (m: Mode) => (mode = m),
    async up() {
      const s = (server = createServer(handle));
      await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
    },
    async down() {
      server?.closeAllConnections();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server = null;
    },
  };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(testEngines())('SIEM export as OCSF (%s)', (database) => {
  let siem: ReturnType<typeof collector>;
  let cp: TestCarapace;
  let exportFile: string;

  beforeAll(async () => {
    process.env[AUTH_ENV] = SECRET;
    // The collector keeps one port across its outages, as a real SIEM's address does.
    const port = await freePort();
    siem = collector(port);
    await siem.up();
    const url = `http://127.0.0.1:${port}/ingest`;
    cp = await startTestCarapace({
      database,
      overrides: {
        redis: { keyPrefix: `siem-${randomUUID()}:` },
        // The collector is a local http receiver: development mode lets the outbound layer reach it explicitly.
        outbound: { allowLoopbackHttp: true },
        audit: {
          checkpointInterval: 3600,
          export: {
            sinks: ['file', 'http'],
            interval: 0.1,
            batchSize: 5,
            file: { maxBytes: 8192, keep: 1000 },
            http: { url, authorizationEnv: AUTH_ENV, retryBase: 0.05, retryMax: 1.5, timeout: 1, backlogMax: 15 },
          },
        },
      },
    });
    exportFile = join(cp.config.dataDir, 'audit', 'export', 'ocsf.jsonl');
  });
  afterAll(async () => {
    await cp?.stop();
    await siem.down();
  });

  const write = async (n: number) => {
    const tag = `batch ${randomUUID()}`;
    for (let i = 0; i < n; i++) {
      await cp.platform.audit.append(cp.platform.storage.db, {
        type: 'admin.request.refused',
        actor: { type: 'operator', id: `op-${i}` },
        object: { type: 'route', id: '/admin/v1/x' },
        action: 'admin:read',
        decision: 'deny',
        reason: tag,
        context: { requestId: randomUUID(), traceId: null, sourceIp: '127.0.0.1' },
      });
    }
    await cp.platform.evidence.sealer.checkpoint();
    const page = await cp.platform.evidence.tail(-1, 1000);
    const ids = page.events.filter((e) => e.event.reason === tag).map((e) => e.event.id);
    expect(ids).toHaveLength(n);
    return ids;
  };
  const trailIds = async () => {
    const out: string[] = [];
    for (let after = -1; ;) {
      const page = await cp.platform.evidence.tail(after, 1000);
      if (page.events.length === 0) return out;
      out.push(...page.events.map((e) => e.event.id));
      after = page.cursor;
    }
  };
  const fileRecords = () => {
    const dir = dirname(exportFile);
    const files = readdirSync(dir).filter((f) => f.startsWith('ocsf.jsonl'));
    // Rotated files first, oldest first (their names sort by timestamp), then the live file.
    const ordered = [...files.filter((f) => f !== 'ocsf.jsonl').sort(), 'ocsf.jsonl'].filter((f) =>
      existsSync(join(dir, f)),
    );
    const lines = ordered.flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
    return {
      files: ordered.length,
      records: lines.map((l) => JSON.parse(l) as { metadata: { uid: string; sequence: number } }),
    };
  };
  const http = () => cp.platform.siem.status().find((s) => s.sink === 'http')!;
  const allDelivered = async () => {
    const ids = await trailIds();
    return ids.every((id) => siem.received.has(id)) && fileRecords().records.length === ids.length;
  };

  it('streams every sealed event to a rotating file and the collector, ascending, no duplicates', async () => {
    await write(40);
    await until('both sinks to catch up', allDelivered);
    const { files, records } = fileRecords();
    expect(files).toBeGreaterThan(1);
    expect(records.map((r) => r.metadata.sequence)).toEqual(records.map((_, i) => i));
    expect(records.map((r) => r.metadata.uid)).toEqual(await trailIds());
    expect([...siem.received.values()].every((n) => n === 1)).toBe(true);
    expect(siem.attempts.every((a) => a.authorization === SECRET)).toBe(true);
  });

  it('retries through 500s, an outage and Retry-After, then delivers every event by id', async () => {
    siem.set({ kind: 'status', status: 500 });
    const ids = await write(6);
    await until('two failed POSTs', () => http().consecutiveFailures >= 2);
    await siem.down();
    const before = http().consecutiveFailures;
    await until('a failure while unreachable', () => http().consecutiveFailures > before);
    expect(http().lastError).not.toContain('siem-');
    siem.set({ kind: 'status', status: 503, retryAfter: '1' });
    await siem.up();
    const n = siem.attempts.length;
    await until('a 503 with Retry-After', () => siem.attempts.length > n);
    const refusedAt = siem.attempts.at(-1)!.at;
    siem.set({ kind: 'ok' });
    await until('the collector to have every event', allDelivered);
    // The next POST waited for the collector's Retry-After (1 s), not the 50 ms backoff.
    expect(siem.attempts.find((a) => a.at > refusedAt)!.at - refusedAt).toBeGreaterThanOrEqual(900);
    for (const id of ids) expect(siem.received.get(id)).toBeGreaterThanOrEqual(1);
  });

  it('holds its cursor when the backlog bound is reached, says so, and drains when the collector returns', async () => {
    siem.set({ kind: 'status', status: 500 });
    const ids = await write(30);
    await until('backpressure', () => http().backpressure);
    const delivered = http().cursor;
    expect(http().backlog).toBe(15);
    // Rounds go on failing, and the delivered cursor stays behind the trail without dropping a record.
    const failures = http().consecutiveFailures;
    await until('more failed rounds', () => http().consecutiveFailures > failures);
    expect(http().cursor).toBe(delivered);
    expect(delivered).toBeLessThan((await trailIds()).length - 30);
    const spool = join(cp.config.dataDir, 'audit', 'export', 'http.backlog.jsonl');
    expect(readFileSync(spool, 'utf8').trim().split('\n')).toHaveLength(15);
    expect(http().cursor).toBe(delivered);
    // Retention follows the slowest sink: the file is current, the collector is not, and pruning stops below it.
    const pending = await cp.platform.siem.pendingFrom();
    expect(pending).not.toBeNull();
    expect(pending!).toBeLessThanOrEqual(delivered + 1);
    const ready = await httpsRequest(`${cp.addresses.admin}/readyz`, {
      ca: cp.ca,
      cert: cp.operatorTls.cert,
      key: cp.operatorTls.key,
    });
    const details = (ready.json as { details: Record<string, Record<string, unknown>> }).details;
    expect(details['siem.http']).toMatchObject({ backpressure: true, backlog: 15, backlogMax: 15, cursor: delivered });
    expect(JSON.stringify(ready.json)).not.toContain(SECRET);
    siem.set({ kind: 'ok' });
    await until('the backlog to drain', allDelivered);
    expect(http().backpressure).toBe(false);
    for (const id of ids) expect(siem.received.has(id)).toBe(true);
  });

  it('resumes from the persisted cursors after a restart, re-sending nothing to the file', async () => {
    const before = fileRecords().records.length;
    const cursor = http().cursor;
    await cp.restart();
    const ids = await write(7);
    await until('both sinks after the restart', allDelivered);
    const { records } = fileRecords();
    expect(records.length).toBeGreaterThanOrEqual(before + 7);
    expect(new Set(records.map((r) => r.metadata.uid)).size).toBe(records.length);
    expect(records.map((r) => r.metadata.sequence)).toEqual(records.map((_, i) => i));
    expect(http().cursor).toBeGreaterThan(cursor);
    for (const id of ids) expect(siem.received.get(id)).toBe(1);
  });

  it('carapace audit export --format ocsf prints the trail as OCSF lines from a leaf on', async () => {
    const env = {
      ...process.env,
      CARAPACE_DATA_DIR: cp.config.dataDir,
      CARAPACE_LOG_LEVEL: 'warn',
      DATABASE_URL: cp.config.database.url ?? '',
      CARAPACE_DATABASE_SCHEMA: cp.config.database.schema,
      REDIS_URL: '',
    };
    const args = [...CLI, 'audit', 'export', '--format', 'ocsf', '--after-leaf', '9', '--limit', '20'];
    const { stdout } = await run('node', args, { env, timeout: 60_000 });
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { class_uid: number; metadata: Record<string, unknown> });
    expect(lines).toHaveLength(20);
    expect(lines.map((l) => l.metadata.sequence)).toEqual(Array.from({ length: 20 }, (_, i) => 10 + i));
    expect(lines.map((l) => l.metadata.uid)).toEqual((await trailIds()).slice(10, 30));
    expect(lines.every((l) => l.class_uid > 0 && l.metadata.version === '1.3.0')).toBe(true);
  });
});
