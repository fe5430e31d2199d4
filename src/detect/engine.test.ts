import { afterEach, describe, expect, it } from 'vitest';
import { type AuditEvent, createAuditLog } from '../audit/index.js';
import { createMemoryCluster } from '../cluster/index.js';
import { createLogger, FixedClock } from '../platform/index.js';
import { openStorage, type Storage } from '../storage/index.js';
import { testDatabases } from '../testing/index.js';
import { createCursorStore, CursorMovedError } from './cursor.js';
import { createDetectionEngine, type EngineDeps } from './engine.js';
import type { FindingReaction } from './findings.js';
import { DEFAULT_DETECTIONS_DIR, loadRules, parseRule } from './rule.js';

const rules = loadRules(DEFAULT_DETECTIONS_DIR).filter((r) => r.id === 'sample-refused-requests');
/** A meta-rule: any finding raised is itself a finding (the shape of "the same anomaly across many vehicles"). */
const meta = parseRule(
  'any-finding.json',
  JSON.stringify({
    id: 'any-finding',
    version: 1,
    title: 'A finding was raised',
    description: 'Meta-rule for the tests.',
    severity: 'medium',
    enabled: true,
    match: { types: ['detect.finding.raised'] },
    key: [],
    evaluate: { kind: 'threshold', threshold: 1, window: '1h' },
    assets: { networks: ['details.networks'] },
    regroup: '1s',
    because: '{count} findings raised',
  }),
);
const settings = { intervalMs: 50, batch: 100, gapSettleMs: 30_000, leaseTtlSeconds: 5 };

function refused(ip = '203.0.113.7'): AuditEvent {
  return {
    type: 'auth.request.refused',
    actor: { type: 'anonymous' },
    action: 'auth:authenticate',
    decision: 'deny',
    reason: 'token_invalid',
    context: { sourceIp: ip, requestId: null, traceId: null },
  };
}

const closing: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closing.splice(0).reverse()) await c();
});

describe.each(testDatabases().map((d) => [d.name, d] as const))('detection engine (%s)', (name, database) => {
  async function setup(extra: Partial<EngineDeps> = {}) {
    const storage = await database.open();
    closing.push(() => storage.close());
    const clock = new FixedClock(Date.parse('2026-03-01T10:00:00.000Z'));
    const audit = createAuditLog({ db: storage.db, clock });
    const cluster = createMemoryCluster({ now: () => clock.now().getTime() });
    const engine = (more: Partial<EngineDeps> = {}) => {
      const e = createDetectionEngine({
        db: storage.db,
        dialect: storage.dialect,
        audit,
        clock,
        log: createLogger('silent'),
        cluster,
        rules,
        settings,
        ...extra,
        ...more,
      });
      closing.push(() => e.stop());
      return e;
    };
    const write = async (n: number, ip?: string) => {
      for (let i = 0; i < n; i++) {
        await audit.append(storage.db, refused(ip));
        clock.advance(1000);
      }
    };
    return { storage, clock, audit, cluster, engine, write };
  }

  it('raises one finding from five refusals, with them as evidence, and counts each event once', async () => {
    const { engine, write } = await setup();
    const e = engine();
    await e.runOnce(); // creates the cursor
    await write(5);
    await e.runOnce();
    const { findings } = await e.findings.list({});
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ ruleId: 'sample-refused-requests', ruleVersion: 2, count: 1, status: 'open' });
    expect(findings[0]?.evidence).toHaveLength(5);
    expect(findings[0]?.assets.networks).toEqual(['203.0.113.0/24']);
    expect(e.status()).toMatchObject({ evaluated: 5, discarded: 0, leaseHeld: true, findingsRaised: 1 });
    // The engine's own detect.finding.raised is read next round, and no rule of this set matches it.
    await e.runOnce();
    expect(e.status().evaluated).toBe(6);
    expect((await e.findings.list({})).findings).toHaveLength(1);
  });

  it('groups repeats into the same finding, and a repeat after a resolve raises a new one', async () => {
    const { engine, write } = await setup();
    const e = engine();
    await e.runOnce();
    await write(5);
    await e.runOnce();
    await write(2);
    await e.runOnce();
    const [f] = (await e.findings.list({})).findings;
    // It fired on the fifth event, then on each of the two more: three firings, one finding.
    expect(f).toMatchObject({ count: 3 });
    expect(f?.evidence.length).toBeGreaterThan(5);
    await e.findings.setStatus(f!.id, { status: 'resolved', reason: 'test', operator: 'op', requestId: null });
    await write(1);
    await e.runOnce();
    const all = (await e.findings.list({})).findings;
    expect(all.map((x) => x.status).sort()).toEqual(['open', 'resolved']);
  });

  it('calls the reaction port inside the commit and records the incident it names', async () => {
    const seen: Array<{ raised: boolean; count: number }> = [];
    const onFinding: FindingReaction = async (trx, finding, change) => {
      // Inside the transaction: the finding is already readable through it.
      const row = await trx.selectFrom('detect_findings').select('id').where('id', '=', finding.id).executeTakeFirst();
      expect(row?.id).toBe(finding.id);
      seen.push({ raised: change.raised, count: finding.count });
      return { incidentId: 'incident-1' };
    };
    const { engine, write } = await setup({ onFinding });
    const e = engine();
    await e.runOnce();
    await write(5);
    await e.runOnce();
    await write(1);
    await e.runOnce();
    expect(seen).toEqual([
      { raised: true, count: 1 },
      { raised: false, count: 2 },
    ]);
    expect((await e.findings.list({})).findings[0]).toMatchObject({ incidentId: 'incident-1' });
  });

  it('pages and filters the findings listing', async () => {
    const { engine, write } = await setup();
    const e = engine();
    await e.runOnce();
    for (const ip of ['198.51.100.1', '198.51.101.1', '198.51.102.1']) {
      await write(5, ip);
      await e.runOnce();
    }
    const first = await e.findings.list({ limit: 2 });
    expect(first.findings).toHaveLength(2);
    const second = await e.findings.list({ limit: 2, cursor: first.next! });
    expect(second).toMatchObject({ next: null });
    const networks = [...first.findings, ...second.findings].flatMap((f) => f.assets.networks);
    expect(networks.sort()).toEqual(['198.51.100.0/24', '198.51.101.0/24', '198.51.102.0/24']);
    expect((await e.findings.list({ severity: 'critical' })).findings).toEqual([]);
    expect((await e.findings.list({ rule: 'sample-refused-requests', status: 'open' })).findings).toHaveLength(3);
    expect((await e.findings.list({ cursor: 'garbage' })).findings).toHaveLength(3);
  });

  it('re-evaluates after a failed commit without counting twice (the crash between windows and commit)', async () => {
    let fail = true;
    const onFinding: FindingReaction = async () => {
      if (fail) throw new Error('crash before the commit');
    };
    const { engine, write } = await setup({ onFinding });
    const e = engine();
    await e.runOnce();
    await write(5);
    await e.runOnce();
    expect(e.status().lastError).toBe('crash before the commit');
    expect(e.status().evaluated).toBe(0);
    expect((await e.findings.list({})).findings).toHaveLength(0);
    fail = false;
    await e.runOnce();
    const [f] = (await e.findings.list({})).findings;
    // The window already held the five events: the second evaluation saw five, not ten, and fired once.
    expect(f).toMatchObject({ count: 1 });
    expect(f?.evidence).toHaveLength(5);
    expect(f?.summary).toMatch(/^5 refused requests/);
    expect(e.status().evaluated).toBe(5);
  });

  it('lets one node evaluate at a time; another takes over when the lease expires, and nothing is lost', async () => {
    const { engine, write, clock } = await setup();
    const a = engine();
    const b = engine();
    await a.runOnce();
    await b.runOnce();
    await write(3);
    await a.runOnce();
    await b.runOnce();
    expect(a.status()).toMatchObject({ leaseHeld: true, evaluated: 3 });
    expect(b.status()).toMatchObject({ leaseHeld: false, evaluated: 0 });
    // A dies (never releases); its lease runs out, B takes over from the committed cursor.
    await write(4);
    clock.advance(6000);
    await b.runOnce();
    expect(b.status()).toMatchObject({ leaseHeld: true, evaluated: 4 });
    expect(a.status().evaluated + b.status().evaluated).toBe(7);
    // The windows are shared through the adapter, so the hit spanning both nodes' events fired.
    expect((await b.findings.list({})).findings).toHaveLength(1);
  });

  it('keeps its lease through a round longer than the lease: no other node takes it, the round commits', async () => {
    const { engine, write, cluster, clock } = await setup();
    const e = engine();
    await e.runOnce();
    await write(40);
    // Each evaluation takes 200 ms (a flooded window, a slow Redis): 40 events outlast the 5 s lease. Another node
    // tries to take the lease 6 s into the round.
    let adds = 0;
    let contender: boolean | null = null;
    const slow = {
      ...cluster,
      kind: cluster.kind,
      windowAdd: async (...a: Parameters<typeof cluster.windowAdd>) => {
        clock.advance(200);
        if (++adds === 30) contender = (await cluster.reserve('detect:engine', 'other-node', 5)).reserved;
        return cluster.windowAdd(...a);
      },
    };
    const long = engine({ cluster: slow });
    await e.stop();
    clock.advance(6000);
    await long.runOnce();
    expect(contender).toBe(false);
    expect(long.status()).toMatchObject({ leaseHeld: true, evaluated: 40, discarded: 0 });
  });

  it('waits while the window state cannot answer (fail closed) and skips nothing', async () => {
    const { engine, write, cluster } = await setup();
    let down = false;
    const flaky = {
      ...cluster,
      kind: cluster.kind,
      windowAdd: async (...a: Parameters<typeof cluster.windowAdd>) => {
        if (down) throw new Error('cluster coordination is unavailable');
        return cluster.windowAdd(...a);
      },
    };
    const e = engine({ cluster: flaky });
    await e.runOnce();
    down = true;
    await write(5);
    await e.runOnce();
    expect(e.status()).toMatchObject({ evaluated: 0, lastError: 'cluster coordination is unavailable' });
    down = false;
    await e.runOnce();
    expect(e.status()).toMatchObject({ evaluated: 5, lastError: null });
    expect((await e.findings.list({})).findings).toHaveLength(1);
  });

  it('first start judges the events of the longest window before it, not older history', async () => {
    const { engine, write, clock } = await setup();
    await write(4);
    clock.advance(120_000);
    await write(5);
    const e = engine();
    await e.runOnce();
    // The four old refusals are outside the 60 s window: not evaluated; the five recent ones are, and fire.
    expect(e.status().evaluated).toBe(5);
    const [f] = (await e.findings.list({})).findings;
    expect(f?.evidence).toHaveLength(5);
  });

  it('a meta-rule reads findings, but never the findings of a meta-rule: no loop', async () => {
    const { engine, write, clock } = await setup({ rules: [...rules, meta] });
    const e = engine();
    await e.runOnce();
    await write(5);
    for (let i = 0; i < 5; i++) {
      await e.runOnce();
      clock.advance(2000);
    }
    const all = (await e.findings.list({})).findings;
    expect(all.map((f) => f.ruleId).sort()).toEqual(['any-finding', 'sample-refused-requests']);
    expect(all.find((f) => f.ruleId === 'any-finding')?.assets.networks).toEqual(['203.0.113.0/24']);
  });

  it('refuses a cursor commit from a stale version (a node that lost its lease)', async () => {
    const { storage } = await setup();
    const cursors = createCursorStore(storage.db);
    await cursors.create(10, 'a', 'now');
    const read = (await cursors.load())!;
    const next = { high: 12, gaps: [], version: read.version + 1 };
    await storage.db.transaction().execute((trx) => cursors.commit(trx, read, next, 'b', 'now'));
    await expect(
      storage.db.transaction().execute((trx) => cursors.commit(trx, read, { ...next, high: 11 }, 'a', 'now')),
    ).rejects.toBeInstanceOf(CursorMovedError);
    expect(await cursors.load()).toMatchObject({ high: 12, version: 1 });
  });

  it('replays the longest window into fresh in-memory windows at start (a restart loses no window)', async () => {
    const { engine, write, storage, audit, clock } = await setup();
    const first = engine();
    await first.runOnce();
    await write(3);
    await first.runOnce();
    await first.stop();
    expect((await first.findings.list({})).findings).toHaveLength(0);
    // A new process: new memory windows, same database.
    const restarted = engine({ cluster: createMemoryCluster({ now: () => clock.now().getTime() }) });
    await audit.append(storage.db, refused());
    await audit.append(storage.db, refused());
    await restarted.runOnce();
    expect(restarted.status()).toMatchObject({ replayed: 3, evaluated: 2 });
    expect((await restarted.findings.list({})).findings).toHaveLength(1);
  });

  // Defined on PostgreSQL only (SQLite has one writer and no such gaps), so nothing is skipped.
  if (name === 'postgres')
    it('waits for a lower seq committed after a higher one was read; gives up one that never commits', async () => {
      const { storage, engine, clock } = await setup({
        overrides: { 'sample-refused-requests': { threshold: 2 } },
      });
      const e = engine();
      await e.runOnce();
      const other: Storage = await openStorage({
        url: process.env.DATABASE_URL!,
        schema: storage.schema!,
        dataDir: '',
      });
      closing.push(() => other.close());
      const otherAudit = createAuditLog({ db: other.db, clock });
      // Connection 2 takes the lower seq and holds its transaction open; connection 1 commits a higher one.
      let commit!: () => void;
      const held = new Promise<void>((r) => (commit = r));
      let inserted!: () => void;
      const started = new Promise<void>((r) => (inserted = r));
      const late = other.db.transaction().execute(async (trx) => {
        await otherAudit.append(trx, refused());
        inserted();
        await held;
      });
      await started;
      await createAuditLog({ db: storage.db, clock }).append(storage.db, refused());
      await e.runOnce();
      expect(e.status()).toMatchObject({ evaluated: 1, cursor: { gaps: 1 } });
      expect((await e.findings.list({})).findings).toHaveLength(0);
      commit();
      await late;
      await e.runOnce();
      expect(e.status()).toMatchObject({ evaluated: 2, cursor: { gaps: 0 } });
      const [f] = (await e.findings.list({})).findings;
      expect(f?.evidence).toHaveLength(2);
      // A rolled-back insert leaves a seq that never commits: given up after detect.gapSettle, not before.
      await other.db
        .transaction()
        .execute(async (trx) => {
          await otherAudit.append(trx, refused());
          throw new Error('rollback');
        })
        .catch(() => undefined);
      await createAuditLog({ db: storage.db, clock }).append(storage.db, refused('198.51.100.1'));
      await e.runOnce();
      expect(e.status()).toMatchObject({ cursor: { gaps: 1 }, gapsGivenUp: 0 });
      clock.advance(29_000);
      await e.runOnce();
      expect(e.status()).toMatchObject({ cursor: { gaps: 1 }, gapsGivenUp: 0 });
      clock.advance(2000);
      await e.runOnce();
      expect(e.status()).toMatchObject({ cursor: { gaps: 0 }, gapsGivenUp: 1 });
    });
});
