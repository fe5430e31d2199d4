/**
 * The detection engine: reads the audit trail by seq as it is written and evaluates each event once.
 *
 * Exactly once across a cluster: one node at a time evaluates, holding a lease through the cluster adapter; the
 * cursor (low watermark + gaps) commits in the same transaction as the findings it produced, compare-and-set on
 * its version, so a node that lost its lease mid-round can not commit (its round is discarded and counted). A
 * crash between the window writes (Redis) and the commit re-evaluates those events on the next round: the window
 * writes are idempotent and the evidence rows unique per (finding, event), so that is harmless.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { StoredAuditEvent } from '../audit/index.js';
import { latestAuditSeq, readAuditEventsAfter, readAuditEventsBefore, readAuditEventsBySeqs } from '../audit/index.js';
import type { Cluster } from '../cluster/index.js';
import type { Clock, Logger } from '../platform/index.js';
import type { Database, Dialect } from '../storage/index.js';
import type { DetectAuditLog } from './audit-events.js';
import { advanceCursor, createCursorStore, CursorMovedError, type CursorState } from './cursor.js';
import { createEvaluator, type Evaluator, type Hit } from './evaluate.js';
import { createFindingStore, type FindingReaction, type FindingStore } from './findings.js';
import type { GeoEntry } from './network.js';
import type { RuleOverrides } from './overrides.js';
import type { Rule } from './rule.js';

/** The engine's settings (`detect.*`), in ms where durations. */
export interface EngineSettings {
  intervalMs: number;
  batch: number;
  gapSettleMs: number;
  leaseTtlSeconds: number;
}

/** What the engine is built from. */
export interface EngineDeps {
  db: Kysely<Database>;
  dialect: Dialect;
  audit: DetectAuditLog;
  clock: Clock;
  log: Logger;
  cluster: Pick<Cluster, 'kind' | 'reserve' | 'renew' | 'release' | 'windowAdd' | 'windowRange' | 'windowCount'>;
  rules: readonly Rule[];
  overrides?: RuleOverrides;
  geo?: readonly GeoEntry[];
  settings: EngineSettings;
  onFinding?: FindingReaction;
}

/** The engine's state as the admin plane shows it. */
export interface EngineStatus {
  /** This node's lease token (names it in the cursor row). */
  node: string;
  leaseHeld: boolean;
  cursor: { high: number; gaps: number; version: number } | null;
  /** Committed events not yet evaluated (as of the last round), and how old the oldest read was. */
  lagEvents: number;
  lagMs: number;
  /** Events this node evaluated and committed (each event is counted by exactly one node). */
  evaluated: number;
  /** Events this node evaluated in rounds it could not commit (it lost the lease; another node took them). */
  discarded: number;
  /** Events fed to the windows at start without raising (the embedded mode's warm-up). */
  replayed: number;
  /** Gaps given up after `detect.gapSettle`. */
  gapsGivenUp: number;
  findingsRaised: number;
  findingsUpdated: number;
  lastRoundAt: string | null;
  lastError: string | null;
}

/** The running engine. */
export interface DetectionEngine {
  readonly rules: readonly Rule[];
  readonly findings: FindingStore;
  status(): EngineStatus;
  /** Runs rounds until the trail is drained (or the lease is not held). */
  runOnce(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

/** Rounds one tick runs at most before yielding to the timer. */
const ROUNDS_PER_TICK = 20;
/** At most this many events are replayed into the windows at start. */
const REPLAY_LIMIT = 50_000;
const LEASE_KEY = 'detect:engine';

/** Builds the engine (not started). */
export function createDetectionEngine(deps: EngineDeps): DetectionEngine {
  const { db, clock, log, settings } = deps;
  const token = randomUUID();
  const cursors = createCursorStore(db);
  const findings = createFindingStore({ db, audit: deps.audit, clock, onFinding: deps.onFinding });
  const evaluator = createEvaluator({
    rules: deps.rules,
    windows: deps.cluster,
    overrides: deps.overrides,
    geo: deps.geo,
  });
  const trackGaps = deps.dialect === 'postgres';
  let held = false;
  let warmed = deps.cluster.kind !== 'memory';
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;
  const status: EngineStatus = {
    node: token,
    leaseHeld: false,
    cursor: null,
    lagEvents: 0,
    lagMs: 0,
    evaluated: 0,
    discarded: 0,
    replayed: 0,
    gapsGivenUp: 0,
    findingsRaised: 0,
    findingsUpdated: 0,
    lastRoundAt: null,
    lastError: null,
  };

  async function hold(): Promise<boolean> {
    if (held && (await deps.cluster.renew(LEASE_KEY, token, settings.leaseTtlSeconds))) return true;
    held = (await deps.cluster.reserve(LEASE_KEY, token, settings.leaseTtlSeconds)).reserved;
    status.leaseHeld = held;
    return held;
  }

  async function cursorNow(): Promise<CursorState> {
    const found = await cursors.load();
    if (found) return found;
    await cursors.create(await firstStart(), token, clock.now().toISOString());
    return (await cursors.load()) as CursorState;
  }

  /**
   * Where the first start begins: before the events of the longest rule window, so what happened while the
   * node was starting is judged; the history older than that (before detection existed) is not re-judged.
   */
  async function firstStart(): Promise<number> {
    const from = clock.now().getTime() - evaluator.longestWindowMs();
    let before = (await latestAuditSeq(db)) + 1;
    for (let read = 0; read < REPLAY_LIMIT; read += 1000) {
      const page = await readAuditEventsBefore(db, before, 1000);
      const older = page.find((e) => Date.parse(e.occurredAt) < from);
      if (older) return older.seq;
      if (page.length < 1000) return 0;
      before = (page.at(-1) as StoredAuditEvent).seq;
    }
    return before - 1;
  }

  /** In-memory windows start empty: feed them the events of the longest window before the cursor. */
  async function warmUp(cursor: CursorState): Promise<void> {
    const span = evaluator.longestWindowMs();
    const back: StoredAuditEvent[] = [];
    let before = cursor.high + 1;
    let newest: number | null = null;
    while (back.length < REPLAY_LIMIT) {
      const page = await readAuditEventsBefore(db, before, 1000);
      if (page.length === 0) break;
      newest ??= Date.parse((page[0] as StoredAuditEvent).occurredAt);
      const inWindow = page.filter((e) => Date.parse(e.occurredAt) > (newest as number) - span);
      back.push(...inWindow);
      if (inWindow.length < page.length) break;
      before = (page.at(-1) as StoredAuditEvent).seq;
    }
    const gaps = new Set(cursor.gaps.map(([s]) => s));
    for (const e of back.reverse()) if (!gaps.has(e.seq)) await evaluator.evaluate(e, { replay: true });
    status.replayed = back.length;
    warmed = true;
  }

  /** One round: read, evaluate, commit. False when there is nothing more to read now. */
  async function round(): Promise<boolean> {
    if (!(await hold())) return false;
    const cursor = await cursorNow();
    if (!warmed) await warmUp(cursor);
    const gapEvents = trackGaps
      ? await readAuditEventsBySeqs(
          db,
          cursor.gaps.map(([s]) => s),
        )
      : [];
    const fresh = await readAuditEventsAfter(db, cursor.high, settings.batch);
    const events = [...gapEvents, ...fresh].sort((a, b) => a.seq - b.seq);
    const nowMs = clock.now().getTime();
    const { next, givenUp } = advanceCursor(
      cursor,
      events.map((e) => e.seq),
      nowMs,
      { settleMs: settings.gapSettleMs, trackGaps },
    );
    if (events.length === 0 && givenUp.length === 0 && next.gaps.length === cursor.gaps.length) {
      status.cursor = { high: cursor.high, gaps: cursor.gaps.length, version: cursor.version };
      status.lagEvents = 0;
      status.lagMs = 0;
      return false;
    }
    const hits: Hit[] = [];
    // A long round (a flooded window, slow Redis) must not outlive its lease: renewed every third of it, or another
    // node takes the lease mid-round, this round is discarded, and the next holder's equally long round may be too.
    const renewEveryMs = (settings.leaseTtlSeconds * 1000) / 3;
    let renewedAt = clock.now().getTime();
    for (const [i, e] of events.entries()) {
      if (clock.now().getTime() - renewedAt >= renewEveryMs) {
        if (!(await hold())) {
          status.discarded += i;
          return false;
        }
        renewedAt = clock.now().getTime();
      }
      hits.push(...(await evaluator.evaluate(e)));
    }
    // Renewing before the commit narrows the window in which a node that lost its lease still works; the
    // cursor's compare-and-set is what makes a late commit impossible.
    if (!(await hold())) {
      status.discarded += events.length;
      return false;
    }
    const at = clock.now().toISOString();
    try {
      const recorded = await db.transaction().execute(async (trx) => {
        const r = await findings.record(trx, hits);
        await cursors.commit(trx, cursor, next, token, at);
        return r;
      });
      status.findingsRaised += recorded.raised;
      status.findingsUpdated += recorded.updated;
    } catch (err) {
      if (err instanceof CursorMovedError) {
        status.discarded += events.length;
        held = false;
        log.info({ events: events.length }, 'detection round discarded: another node committed the cursor');
        return false;
      }
      throw err;
    }
    status.evaluated += events.length;
    if (givenUp.length > 0) {
      status.gapsGivenUp += givenUp.length;
      log.warn({ seqs: givenUp.slice(0, 20), count: givenUp.length }, 'audit seqs never committed; given up');
    }
    status.cursor = { high: next.high, gaps: next.gaps.length, version: next.version };
    const oldest = fresh[0] ?? gapEvents[0];
    status.lagMs = oldest ? Math.max(0, nowMs - Date.parse(oldest.occurredAt)) : 0;
    status.lagEvents = Math.max(0, (await latestAuditSeq(db)) - next.high) + next.gaps.length;
    return fresh.length === settings.batch;
  }

  async function tick(): Promise<void> {
    try {
      for (let i = 0; i < ROUNDS_PER_TICK && !stopped; i++) if (!(await round())) break;
      status.lastError = null;
    } catch (err) {
      status.lastError = err instanceof Error ? err.message : String(err);
      log.error({ err }, 'detection round failed');
    } finally {
      status.lastRoundAt = clock.now().toISOString();
      status.leaseHeld = held;
    }
  }

  const runOnce = async () => {
    while (running) await running;
    running = tick();
    try {
      await running;
    } finally {
      running = null;
    }
  };

  return {
    rules: deps.rules,
    findings,
    status: () => ({ ...status, cursor: status.cursor ? { ...status.cursor } : null }),
    runOnce,
    start() {
      stopped = false;
      const schedule = () => {
        if (stopped) return;
        timer = setTimeout(() => void runOnce().finally(schedule), settings.intervalMs);
        timer.unref();
      };
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      while (running) await running;
      if (held) await deps.cluster.release(LEASE_KEY, token).catch(() => undefined);
      held = false;
      status.leaseHeld = false;
    },
  };
}

/** The evaluator type, for callers that run rules outside the engine (the fixture runner). */
export type { Evaluator };
