/**
 * Incident scoping at fleet scale (issue 12 item 3): how fast "which vehicles did this token / certificate /
 * client / user touch, and what did it do to each" is answered over a realistic trail.
 *
 * For each engine (SQLite; PostgreSQL too when DATABASE_URL is set) it migrates a fresh store with
 * `carapace migrate`, seeds BENCH_EVENTS audit events (default 1,000,000) for BENCH_VEHICLES vehicles (default
 * 100,000), with the command jobs and the telemetry they point to, seals them into the Merkle tree with
 * `carapace audit checkpoint`, starts `node bin/carapace.js serve` and asks `GET /admin/v1/investigations`
 * over mTLS for random pivots of each kind, checking every answer against the ground truth the seed knows.
 *
 * Baseline, same run: the p50 of `GET /admin/v1/audit/checkpoints/latest` (the admin plane's floor: mTLS, the
 * operator check, one indexed read); the ratio is investigation p50 over that floor. Append throughput: events
 * appended one per transaction by 4 concurrent writers, with the sealer building the tree at the same time and
 * without it, against the same store.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kysely, sql } from 'kysely';
import { type AuditEvent, createAuditLog, pivotsOf } from '../src/audit/index.js';
import { systemClock } from '../src/platform/index.js';
import { type Database, openStorage } from '../src/storage/index.js';
import { dropTestDatabase, freePort, testDatabaseSettings } from '../src/testing/index.js';
import { carapace, serve, serverEnv, stop } from './server.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const VEHICLES = Number(process.env.BENCH_VEHICLES ?? 100_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 100);
const APPENDS = Number(process.env.BENCH_APPENDS ?? 4_000);
const DAY = 86_400_000;
const PARTNERS = 10;
const READS_PER_PARTNER_TOKEN = 20;

/** A deterministic generator, so a run can be repeated and its ground truth is known. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (s: string) => createHash('sha256').update(s).digest('hex');
const vehicleId = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const deviceId = (i: number) => `00000000-0000-4000-9000-${String(i).padStart(12, '0')}`;
const serialOf = (i: number) => hex(`serial-${i}`).slice(0, 32);
const userId = (u: number) => `00000000-0000-4000-a000-${String(u).padStart(12, '0')}`;
const partnerId = (p: number) => `partner-${p}`;

/** What the seed wrote that a pivot must find: the vehicles each pivot value touched. */
interface GroundTruth {
  jti: Map<string, Set<string>>;
  serial: Map<string, Set<string>>;
  user: Map<string, Set<string>>;
  client: Map<string, { at: number; vehicle: string }[]>;
  start: number;
  end: number;
}

type Row = { event: AuditEvent; at: number };

/**
 * The synthetic trail, in time order: each vehicle's enrolment (and some refused telemetry), each owner's
 * tokens with a command on one of their two vehicles (decision, request, two transitions), and partners'
 * client tokens reading vehicles they hold grants for. Yields batches so a million events never sit in memory.
 */
function* trail(truth: GroundTruth): Generator<{ rows: Row[]; jobs: JobSeed[] }> {
  const rnd = prng(42);
  const span = truth.end - truth.start;
  const userTokens = Math.floor((EVENTS - VEHICLES * 1.5 - EVENTS * 0.1) / 5);
  const partnerTokens = Math.floor((EVENTS * 0.1) / READS_PER_PARTNER_TOKEN);
  const units = VEHICLES + userTokens + partnerTokens;
  let rows: Row[] = [];
  let jobs: JobSeed[] = [];
  for (let k = 0; k < units; k++) {
    const at = truth.start + Math.floor((k / units) * span);
    const pick = rnd();
    const kind = pick < VEHICLES / units ? 'vehicle' : pick < (VEHICLES + userTokens) / units ? 'user' : 'partner';
    if (kind === 'vehicle') rows.push(...vehicleEvents(Math.floor(rnd() * VEHICLES), at, rnd, truth));
    else if (kind === 'user') {
      const made = userCommand(Math.floor(rnd() * (VEHICLES / 2)), Math.floor(rnd() * 2), at, truth);
      rows.push(...made.rows);
      jobs.push(made.job);
    } else rows.push(...partnerReads(Math.floor(rnd() * PARTNERS), at, rnd, truth));
    if (rows.length >= 2000) {
      yield { rows, jobs };
      rows = [];
      jobs = [];
    }
  }
  if (rows.length > 0) yield { rows, jobs };
}

const context = () => ({ requestId: randomUUID(), traceId: hex(randomUUID()).slice(0, 32), sourceIp: '198.51.100.7' });

function vehicleEvents(i: number, at: number, rnd: () => number, truth: GroundTruth): Row[] {
  const serial = serialOf(i);
  const details = { serial, thumbprint: hex(`thumb-${i}`), vehicleId: vehicleId(i) };
  const out: Row[] = [
    {
      at,
      event: {
        type: 'pki.device.enrolled',
        actor: { type: 'device', id: deviceId(i) },
        object: { type: 'device', id: deviceId(i) },
        action: 'enroll',
        decision: 'allow',
        context: context(),
        details,
      },
    },
  ];
  if (rnd() < 0.5)
    out.push({
      at: at + 1,
      event: {
        type: 'telemetry.batch.rejected',
        actor: { type: 'device', id: deviceId(i) },
        object: { type: 'vehicle', id: vehicleId(i) },
        action: 'telemetry:ingest',
        decision: 'deny',
        reason: 'bad_signature',
        context: context(),
        details: { serial, rejected: 1 },
      },
    });
  add(truth.serial, serial, vehicleId(i));
  return out;
}

/** A command job row the seed writes beside its events. */
interface JobSeed {
  id: string;
  vehicle: number;
  user: string;
  at: number;
}

function userCommand(u: number, which: number, at: number, truth: GroundTruth): { rows: Row[]; job: JobSeed } {
  const v = 2 * u + which;
  const jti = randomUUID();
  const job = randomUUID();
  const ctx = context();
  const user = { type: 'user' as const, id: userId(u) };
  const base = { applicationId: 'owner-app', tenantId: `tenant-${u}`, policyVersion: 'sha256:bench' };
  const rows: Row[] = [
    {
      at,
      event: {
        ...base,
        type: 'auth.token.issued',
        actor: user,
        action: 'token',
        decision: 'allow',
        context: ctx,
        details: { jti },
      },
    },
    {
      at: at + 1,
      event: {
        ...base,
        type: 'authz.decision',
        actor: user,
        object: { type: 'Vehicle', id: vehicleId(v) },
        action: 'vehicle:command:lock',
        decision: 'allow',
        context: ctx,
        details: { jti },
      },
    },
    {
      at: at + 2,
      event: {
        ...base,
        type: 'commands.job.requested',
        actor: user,
        object: { type: 'command_job', id: job },
        action: 'command:request',
        decision: 'allow',
        context: ctx,
        details: { jti, jobId: job, vehicleId: vehicleId(v), command: 'lock' },
      },
    },
    ...(['delivered', 'confirmed'] as const).map((to, n) => ({
      at: at + 300 + n * 200,
      event: {
        tenantId: base.tenantId,
        type: 'commands.job.transitioned',
        actor: { type: 'device' as const, id: deviceId(v) },
        object: { type: 'command_job', id: job },
        action: `command:${to}`,
        decision: 'info' as const,
        context: { requestId: null, traceId: ctx.traceId, sourceIp: null },
        details: { jobId: job, vehicleId: vehicleId(v), to },
      },
    })),
  ];
  add(truth.jti, jti, vehicleId(v));
  add(truth.user, userId(u), vehicleId(v));
  return { rows, job: { id: job, vehicle: v, user: userId(u), at } };
}

function partnerReads(p: number, at: number, rnd: () => number, truth: GroundTruth): Row[] {
  const jti = randomUUID();
  const grants = Math.floor(VEHICLES / PARTNERS);
  return Array.from({ length: READS_PER_PARTNER_TOKEN }, (_, n) => {
    const v = vehicleId(p * grants + Math.floor(rnd() * grants));
    add(truth.jti, jti, v);
    const list = truth.client.get(partnerId(p)) ?? [];
    list.push({ at: at + n, vehicle: v });
    truth.client.set(partnerId(p), list);
    return {
      at: at + n,
      event: {
        type: 'authz.decision',
        actor: { type: 'application' as const, id: partnerId(p) },
        applicationId: partnerId(p),
        tenantId: `partner-tenant-${p}`,
        object: { type: 'Vehicle', id: v },
        action: 'vehicle:read_state',
        decision: 'allow' as const,
        policyVersion: 'sha256:bench',
        context: context(),
        details: { jti },
      },
    };
  });
}

function add(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key) ?? new Set<string>();
  set.add(value);
  map.set(key, set);
}

/** One audit row as the store writes it (src/audit/store.ts), with the time the seed chose. */
function eventRow(e: AuditEvent, at: number) {
  return {
    id: randomUUID(),
    occurred_at: new Date(at).toISOString(),
    type: e.type,
    actor_type: e.actor.type,
    actor_id: e.actor.id ?? null,
    application_id: e.applicationId ?? null,
    tenant_id: e.tenantId ?? null,
    object_type: e.object?.type ?? null,
    object_id: e.object?.id ?? null,
    action: e.action,
    decision: e.decision,
    reason: e.reason ?? null,
    policy_version: e.policyVersion ?? null,
    request_id: e.context?.requestId ?? null,
    trace_id: e.context?.traceId ?? null,
    source_ip: e.context?.sourceIp ?? null,
    details: JSON.stringify(e.details ?? {}),
    prev_hash: null,
    hash: null,
  };
}

async function insertEvents(db: Kysely<Database>, rows: Row[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < rows.length; i += 500) {
      const chunk = rows.slice(i, i + 500).map((r) => ({ row: eventRow(r.event, r.at), event: r.event }));
      const ids = await trx
        .insertInto('audit_events')
        .values(chunk.map((c) => c.row))
        .returning(['id', 'seq'])
        .execute();
      const seqOf = new Map(ids.map((r) => [r.id, Number(r.seq)]));
      const pivots = chunk.flatMap((c) =>
        pivotsOf(c.event).map((p) => ({ ...p, occurred_at: c.row.occurred_at, event_seq: seqOf.get(c.row.id)! })),
      );
      for (let j = 0; j < pivots.length; j += 1000)
        await trx
          .insertInto('audit_pivots')
          .values(pivots.slice(j, j + 1000))
          .execute();
    }
  });
}

async function insertVehicles(db: Kysely<Database>, start: number): Promise<void> {
  for (let i = 0; i < VEHICLES; i += 1000) {
    const n = Math.min(1000, VEHICLES - i);
    const at = new Date(start).toISOString();
    await db
      .insertInto('vehicles')
      .values(
        Array.from({ length: n }, (_, k) => ({
          id: vehicleId(i + k),
          vin: `1BENCH${String(i + k).padStart(11, '0')}`,
          created_at: at,
        })),
      )
      .execute();
  }
}

async function insertJobs(db: Kysely<Database>, jobs: JobSeed[]): Promise<void> {
  if (jobs.length === 0) return;
  const row = (j: JobSeed) => {
    const at = new Date(j.at).toISOString();
    return {
      id: j.id,
      vehicle_id: vehicleId(j.vehicle),
      device_id: deviceId(j.vehicle),
      tenant_id: null,
      batch_id: null,
      command: 'lock',
      params: '{}',
      params_hash: hex('{}'),
      requester_id: j.user,
      client_id: 'owner-app',
      state: 'confirmed' as const,
      reason: null,
      retry: null,
      decision_record: '{}',
      decision_hash: hex(j.id),
      policy_version: 'sha256:bench',
      created_at: at,
      expires_at: new Date(j.at + 60_000).toISOString(),
      updated_at: new Date(j.at + 500).toISOString(),
      counter: null,
      kid: null,
      envelope_signed: null,
      envelope_sig: null,
      ack_signed: null,
      ack_sig: null,
    };
  };
  for (let i = 0; i < jobs.length; i += 500)
    await db
      .insertInto('command_jobs')
      .values(jobs.slice(i, i + 500).map(row))
      .execute();
}

/** Two accepted telemetry messages per vehicle, with the software version and configuration they report. */
async function insertTelemetry(db: Kysely<Database>, start: number, end: number): Promise<void> {
  for (let i = 0; i < VEHICLES; i += 500) {
    const values = Array.from({ length: Math.min(500, VEHICLES - i) }, (_, k) => i + k).flatMap((v) =>
      [0, 1].map((n) => {
        const at = new Date(start + ((v * 2 + n) / (VEHICLES * 2)) * (end - start)).toISOString();
        return {
          id: randomUUID(),
          batch_id: `batch-${v}-${n}`,
          device_id: deviceId(v),
          vehicle_id: vehicleId(v),
          seq: n + 1,
          boot_id: 'boot-1',
          message_ts: at,
          kind: 'state',
          sw_version: n === 0 ? '4.1.0' : '4.2.0',
          config_id: 'cfg-eu-1',
          cert_serial: serialOf(v),
          cert_thumbprint: hex(`thumb-${v}`),
          received_at: at,
          verdict: 'accepted' as const,
          reason: null,
          flags: '',
          backfill: 0,
          signed_bytes: Buffer.from('{}'),
          signature: 'bench',
        };
      }),
    );
    await db.insertInto('telemetry_messages').values(values).execute();
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

/** An mTLS GET on the admin plane as the bench operator; resolves with the status, the body and the time taken. */
function adminGet(agent: https.Agent, url: string): Promise<{ status: number; body: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    https
      .get(url, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - t0 }));
      })
      .on('error', reject);
  });
}

interface PivotFigures {
  queries: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanVehicles: number;
  wrong: number;
}

/** Asks the investigation for `n` pivot values of one kind and checks each answer's vehicles. */
async function measurePivot(
  agent: https.Agent,
  base: string,
  cases: { value: string; from: number; to: number; expected: Set<string> }[],
  pivot: string,
): Promise<PivotFigures> {
  const times: number[] = [];
  let wrong = 0;
  let vehicles = 0;
  for (const c of cases) {
    const q = new URLSearchParams({
      pivot,
      value: c.value,
      from: new Date(c.from).toISOString(),
      to: new Date(c.to).toISOString(),
    });
    const res = await adminGet(agent, `${base}/admin/v1/investigations?${q}`);
    if (res.status !== 200)
      throw new Error(`investigation ${pivot}=${c.value}: ${res.status} ${res.body.slice(0, 300)}`);
    times.push(res.ms);
    const found = new Set(
      (JSON.parse(res.body) as { vehicles: { vehicleId: string }[] }).vehicles.map((v) => v.vehicleId),
    );
    vehicles += found.size;
    // Exactly the vehicles the seed says this pivot touched in the window: none missing, none extra.
    if (found.size !== c.expected.size || [...found].some((v) => !c.expected.has(v))) wrong++;
  }
  return {
    queries: cases.length,
    p50Ms: round(percentile(times, 50)),
    p99Ms: round(percentile(times, 99)),
    maxMs: round(Math.max(...times)),
    meanVehicles: round(vehicles / cases.length),
    wrong,
  };
}

function sample<T>(items: T[], n: number, rnd: () => number): T[] {
  return Array.from({ length: Math.min(n, items.length) }, () => items[Math.floor(rnd() * items.length)]!);
}

/** The cases per pivot: tokens, certificates and users over the whole month, partners over one day. */
function pivotCases(truth: GroundTruth) {
  const rnd = prng(7);
  const month = { from: truth.start, to: truth.end + DAY };
  const cases = (map: Map<string, Set<string>>) =>
    sample([...map.keys()], QUERIES, rnd).map((value) => ({ value, ...month, expected: map.get(value)! }));
  const day = sample([...truth.client.keys()], QUERIES, rnd).map((value) => {
    const from = truth.start + Math.floor(rnd() * 28) * DAY;
    const expected = new Set(
      truth.client
        .get(value)!
        .filter((r) => r.at >= from && r.at < from + DAY)
        .map((r) => r.vehicle),
    );
    return { value, from, to: from + DAY, expected };
  });
  return { jti: cases(truth.jti), serial: cases(truth.serial), user: cases(truth.user), client: day };
}

/** Events appended one per transaction by `writers` concurrent writers: events per second. */
async function appendRate(db: Kysely<Database>, writers: number): Promise<number> {
  const log = createAuditLog<string>({ db, clock: systemClock });
  const per = Math.ceil(APPENDS / writers);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < per; i++)
        await db.transaction().execute((trx) =>
          log.append(trx, {
            type: 'bench.append.measured',
            actor: { type: 'user', id: userId(w) },
            object: { type: 'vehicle', id: vehicleId(i % VEHICLES) },
            action: 'bench',
            decision: 'info',
            context: context(),
            details: { jti: randomUUID() },
          }),
        );
    }),
  );
  return (per * writers) / ((performance.now() - t0) / 1000);
}

async function seed(db: Kysely<Database>, truth: GroundTruth): Promise<{ events: number; seconds: number }> {
  const t0 = performance.now();
  await insertVehicles(db, truth.start);
  await insertTelemetry(db, truth.start, truth.end);
  let events = 0;
  for (const batch of trail(truth)) {
    await insertEvents(db, batch.rows);
    await insertJobs(db, batch.jobs);
    events += batch.rows.length;
  }
  return { events, seconds: round((performance.now() - t0) / 1000) };
}

async function runEngine(engine: 'sqlite' | 'postgres') {
  const database = testDatabaseSettings(engine);
  const dataDir = mkdtempSync(join(tmpdir(), 'carapace-bench-inv-'));
  const ports = { pub: await freePort(), gw: await freePort(), adm: await freePort() };
  const env = serverEnv(dataDir, ports, {
    DATABASE_URL: database.url ?? '',
    CARAPACE_DATABASE_SCHEMA: database.schema,
    // The bench seals on demand; the periodic sealer would compete with the queries being measured.
    CARAPACE_AUDIT_CHECKPOINT_INTERVAL: '3600',
  });
  try {
    await carapace(['migrate'], env);
    const storage = await openStorage({ url: database.url, schema: database.schema, dataDir });
    const end = Date.now() - DAY;
    const truth: GroundTruth = {
      jti: new Map(),
      serial: new Map(),
      user: new Map(),
      client: new Map(),
      start: end - 30 * DAY,
      end,
    };
    const seeded = await seed(storage.db, truth);
    // What autovacuum does after a bulk load; a planner without statistics is not what production runs.
    if (engine === 'postgres') await sql`analyze`.execute(storage.db);
    process.stderr.write(`${engine}: seeded ${seeded.events} events in ${seeded.seconds} s\n`);
    let t0 = performance.now();
    await carapace(['audit', 'checkpoint'], env);
    const sealSeconds = (performance.now() - t0) / 1000;
    process.stderr.write(`${engine}: sealed in ${round(sealSeconds)} s\n`);

    const server = await serve(env);
    try {
      const pem = (...p: string[]) => readFileSync(join(dataDir, ...p), 'utf8');
      const agent = new https.Agent({
        keepAlive: true,
        maxSockets: 1,
        ca: pem('pki', 'ca.pem'),
        cert: pem('pki', 'operator', 'admin-cert.pem'),
        key: pem('pki', 'operator', 'admin-key.pem'),
      });
      const base = `https://localhost:${ports.adm}`;
      const floor: number[] = [];
      for (let i = 0; i < 200; i++) floor.push((await adminGet(agent, `${base}/admin/v1/audit/checkpoints/latest`)).ms);
      const cases = pivotCases(truth);
      const pivots: Record<string, PivotFigures> = {};
      for (const [pivot, list] of Object.entries(cases)) pivots[pivot] = await measurePivot(agent, base, list, pivot);
      agent.destroy();

      // Append throughput: the same store, the sealer off (this server's interval is an hour) and then on.
      const without = await appendRate(storage.db, 4);
      t0 = performance.now();
      const sealing = carapace(['audit', 'checkpoint'], env);
      const withTree = await appendRate(storage.db, 4);
      await sealing;
      await storage.close();
      const floorP50 = percentile(floor, 50);
      const worstP99 = Math.max(...Object.values(pivots).map((p) => p.p99Ms));
      return {
        engine,
        events: seeded.events,
        vehicles: VEHICLES,
        seedSeconds: seeded.seconds,
        sealLeavesPerSecond: Math.round(seeded.events / sealSeconds),
        baselineAdminP50Ms: round(floorP50, 2),
        pivots,
        worstP99Ms: worstP99,
        ratioP50ToBaseline: Object.fromEntries(Object.entries(pivots).map(([k, p]) => [k, round(p.p50Ms / floorP50)])),
        appendPerSecondWithoutTree: Math.round(without),
        appendPerSecondWhileSealing: Math.round(withTree),
        appendRatio: round(withTree / without, 2),
      };
    } finally {
      await stop(server);
    }
  } finally {
    await dropTestDatabase(database);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// BENCH_ENGINES=sqlite,postgres by default (postgres only with DATABASE_URL).
const engines = (process.env.BENCH_ENGINES ?? 'sqlite,postgres')
  .split(',')
  .filter((e): e is 'sqlite' | 'postgres' => e === 'sqlite' || (e === 'postgres' && !!process.env.DATABASE_URL));
const results = [];
for (const engine of engines) results.push(await runEngine(engine));
process.stdout.write(`${JSON.stringify({ benchmark: 'investigation', node: process.version, results })}\n`);
