import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixedClock } from '../src/platform/index.js';
import { createLogger } from '../src/platform/index.js';
import { createPlatform, type Platform } from '../src/server/index.js';
import { createCluster } from '../src/cluster/index.js';
import { createClusterRateCounter, createMemoryRateCounter } from '../src/telemetry/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import type { TelemetryReceipt } from '../src/vehicle-sdk/index.js';
import { postRaw, telemetryDevice, wire } from './telemetry-support.js';

// Behind real time, so advancing it by a rate window never issues certificates that TLS (on the wall clock) calls not
// yet valid.
const START = Math.floor(Date.now() / 1000) * 1000 - 180_000;

describe.each(testEngines())('telemetry limits and concurrency on %s', (engine) => {
  let cp: TestCarapace;
  const clock = new FixedClock(START);
  const now = () => clock.now().getTime();
  let serial = 0;
  const device = () => telemetryDevice(cp, `TCU-TL-${engine}-${serial++}`, { now });

  beforeAll(async () => {
    cp = await startTestCarapace({
      database: engine,
      clock,
      overrides: { telemetry: { deviceRate: 5, fleetRate: 8, rateWindow: '60s' } },
    });
  });
  afterAll(async () => {
    await cp.stop();
  });

  it(
    'limits messages per device and per fleet, audits the denial once per window, and opens again in the next ' +
      'window',
    async () => {
      const a = await device();
      const b = await device();
      const batch = async (d: Awaited<ReturnType<typeof device>>, n: number) =>
        Promise.all(Array.from({ length: n }, () => d.signer.sign({ kind: 'speed', kmh: 1 })));
      const first = await a.client.sendTelemetry((await batch(a, 7)).map(wire));
      expect(first.verdicts.map((v) => v.reason ?? v.verdict)).toEqual([
        'accepted',
        'accepted',
        'accepted',
        'accepted',
        'accepted',
        'rate_limited',
        'rate_limited',
      ]);
      // The fleet allows 8 per window: 5 went to device a, so device b gets 3.
      const other = await b.client.sendTelemetry((await batch(b, 4)).map(wire));
      expect(other.verdicts.map((v) => v.reason ?? v.verdict)).toEqual([
        'accepted',
        'accepted',
        'accepted',
        'rate_limited',
      ]);
      await a.client.sendTelemetry((await batch(a, 1)).map(wire));
      const { deviceId } = a.client.credentials!.issued;
      const events = await cp.platform.audit.list({ type: 'telemetry.batch.rejected', actorId: deviceId });
      expect(events).toHaveLength(1);
      expect(events[0]?.details.reasons).toEqual(['rate_limited:2']);
      clock.advance(60_000);
      const next = await a.client.sendTelemetry((await batch(a, 2)).map(wire));
      expect(next.accepted).toBe(2);
      a.client.close();
      b.client.close();
    },
  );

  it('answers 503 with Retry-After when the worker budget is exhausted, without storing anything', async () => {
    const { client, signer } = await device();
    const budget = cp.platform.telemetry.budget;
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    const holders = [];
    for (let i = 0; i < cp.config.telemetry.maxConcurrentBatches + cp.config.telemetry.maxQueuedBatches; i++)
      holders.push(budget.run(() => gate));
    const message = wire(await signer.sign({ kind: 'speed', kmh: 1 }));
    const busy = await postRaw(cp, client, { messages: [message] });
    expect(busy.status).toBe(503);
    expect(busy.headers['retry-after']).toBe('1');
    expect(busy.json).toMatchObject({ code: 'ERR_TELEMETRY_BUSY' });
    expect(
      await cp.platform.audit.list({ type: 'telemetry.batch.refused', actorId: client.credentials!.issued.deviceId }),
    ).toMatchObject([{ reason: 'ERR_TELEMETRY_BUSY', decision: 'deny' }]);
    // The rest of the gateway still answers while ingestion is saturated.
    expect((await client.self()).status).toBe('active');
    open();
    await Promise.all(holders);
    const ok = await postRaw(cp, client, { messages: [message] });
    expect((ok.json as TelemetryReceipt).accepted).toBe(1);
    client.close();
  });
});

describe.each(testEngines())('telemetry ingestion by two processes on %s', (engine) => {
  let cp: TestCarapace;
  let second: Platform | null = null;
  const clock = new FixedClock(START);
  const now = () => clock.now().getTime();

  beforeAll(async () => {
    cp = await startTestCarapace({ database: engine, clock });
    // Cluster mode runs on PostgreSQL: there a second platform over the same database is a second process
    // as far as ingestion is concerned. SQLite is single-process; there the race is between two requests.
    if (engine === 'postgres') second = await createPlatform(cp.config, { log: createLogger('silent'), clock });
  });
  afterAll(async () => {
    await second?.close();
    await cp.stop();
  });

  it('accepts each sequence number once when two processes ingest the same messages at the same time', async () => {
    const { client, signer } = await telemetryDevice(cp, `TCU-TC-${engine}`, { now });
    const { issued } = client.credentials!;
    const keys = [{ serial: issued.serial, thumbprint: 'test', key: createPublicKey(issued.certificate), until: null }];
    const dev = { deviceId: issued.deviceId, vehicleId: issued.vehicleId, serial: issued.serial, thumbprint: 'test' };
    const context = { requestId: null, traceId: null, sourceIp: null };
    let total = 0;
    for (let round = 0; round < 5; round++) {
      const messages = (
        await Promise.all(Array.from({ length: 4 }, () => signer.sign({ kind: 'speed', kmh: round })))
      ).map(wire);
      const results = await Promise.all([
        cp.platform.telemetry.ingest({ device: dev, keys, messages, backfill: false, context }),
        (second ?? cp.platform).telemetry.ingest({
          device: dev,
          keys,
          messages: [...messages].reverse(),
          backfill: false,
          context,
        }),
      ]);
      expect(results[0].accepted + results[1].accepted).toBe(4);
      expect(results[0].duplicates + results[1].duplicates).toBe(4);
      total += 4;
    }
    const rows = await cp.platform.storage.db
      .selectFrom('telemetry_messages')
      .select('seq')
      .where('device_id', '=', issued.deviceId)
      .where('verdict', '=', 'accepted')
      .execute();
    expect(rows).toHaveLength(total);
    expect(new Set(rows.map((r) => r.seq)).size).toBe(total);
    client.close();
  });
});

describe('telemetry rate counters', () => {
  it('grants what fits in the window (memory)', async () => {
    const c = createMemoryRateCounter();
    expect(await c.take('k', 3, 5, 60, 0)).toBe(3);
    expect(await c.take('k', 3, 5, 60, 1000)).toBe(2);
    expect(await c.take('k', 3, 5, 60, 2000)).toBe(0);
    expect(await c.take('k', 3, 5, 60, 60_000)).toBe(3);
  });

  it.runIf(process.env.REDIS_URL)('grants what fits in the window across processes (Redis)', async () => {
    const redis = { url: process.env.REDIS_URL as string, keyPrefix: 'carapace-test:', commandTimeoutMs: 1000 };
    const [one, two] = [
      await createCluster({ redis }, { log: createLogger('silent') }),
      await createCluster({ redis }, { log: createLogger('silent') }),
    ];
    const a = createClusterRateCounter(one);
    const b = createClusterRateCounter(two);
    const key = `test-${process.pid}-${Date.now()}`;
    const t = Date.now();
    expect(await a.take(key, 3, 5, 60, t)).toBe(3);
    expect(await b.take(key, 3, 5, 60, t)).toBe(2);
    expect(await a.take(key, 1, 5, 60, t)).toBe(0);
    await one.close();
    await two.close();
  });
});
