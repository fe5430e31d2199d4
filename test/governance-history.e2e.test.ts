import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GovernanceSeries } from '../src/inventory/index.js';
import { FixedClock } from '../src/platform/index.js';
import { startTestCarapace, type TestCarapace, testEngines } from '../src/testing/index.js';
import { type GatewayClient, httpsRequest } from '../src/vehicle-sdk/index.js';
import { admin } from './incidents-support.js';

const MINUTE = 60_000;

// The governance numbers over time: a snapshot at start and whenever one is due on the server's clock, which the
// test moves (no sleep); the history route answers them per series over a time range.
describe.each(testEngines())('governance history (%s)', (database) => {
  const t0 = new Date(Math.floor(Date.now() / MINUTE) * MINUTE);
  const clock = new FixedClock(t0);
  let cp: TestCarapace;
  let device: GatewayClient;
  const at = (minutes: number) => new Date(t0.getTime() + minutes * MINUTE).toISOString();
  const history = async (query: string) => {
    const res = await httpsRequest(`${cp.addresses.admin}/admin/v1/governance/history?${query}`, {
      ca: cp.ca,
      ...cp.operatorTls,
    });
    return res as { status: number; json: { series: GovernanceSeries[]; truncated: boolean; type?: string } };
  };
  const denies = async (query = 'measure=deny-events') => {
    const res = await history(query);
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    return res.json.series.find((s) => s.name === 'carapace_deny_events' && s.labels.type === 'all')?.points ?? [];
  };

  beforeAll(async () => {
    cp = await startTestCarapace({
      database,
      clock,
      overrides: { inventory: { governanceSnapshotRetention: 3600 }, detect: { enabled: false } },
    });
    device = await cp.enrolledDevice('TCU-HISTORY-1');
  }, 60_000);
  afterAll(async () => {
    device?.close();
    await cp?.stop();
  });

  it('records a snapshot at start, and the next only once the interval (15 minutes) has passed', async () => {
    expect((await denies()).map((p) => p.at)).toEqual([t0.toISOString()]);
    clock.advance(10 * MINUTE);
    expect(await cp.listeners.governanceHistory.recordIfDue()).toBe(0);
    expect(await denies()).toHaveLength(1);

    // A deny in between: the revoked unit is refused at the gateway.
    const revoked = await admin(cp, 'POST', '/admin/v1/revocations', {
      deviceId: device.credentials!.issued.deviceId,
      reason: 'keyCompromise',
    });
    expect(revoked.status, JSON.stringify(revoked.json)).toBe(201);
    await expect(device.self()).rejects.toThrow();
    clock.advance(6 * MINUTE);
    expect(await cp.listeners.governanceHistory.recordIfDue()).toBeGreaterThan(0);
    const points = await denies();
    expect(points.map((p) => p.at)).toEqual([at(0), at(16)]);
    expect(points[1]!.value).toBeGreaterThan(points[0]!.value);
  });

  it('answers a time range, one measure or one metric, and keeps no unbounded per-route series', async () => {
    expect((await denies(`measure=deny-events&from=${at(1)}&to=${at(20)}`)).map((p) => p.at)).toEqual([at(16)]);
    const ages = await history('measure=credential-ages&name=carapace_credential_age_p95_seconds');
    expect(ages.status).toBe(200);
    expect(new Set(ages.json.series.map((s) => s.name))).toEqual(new Set(['carapace_credential_age_p95_seconds']));
    expect(ages.json.series.map((s) => s.labels.profile)).toContain('operator');
    const all = await history(`from=${at(-60)}`);
    expect(all.json.series.length).toBeGreaterThan(10);
    expect(all.json.series.some((s) => 'route' in s.labels)).toBe(false);
    expect(all.json.series.every((s) => s.points.every((p) => typeof p.value === 'number'))).toBe(true);
  });

  it('refuses a reversed range, an unknown measure and an unknown parameter with a validation problem', async () => {
    for (const q of [`from=${at(20)}&to=${at(1)}`, 'measure=everything', 'limit=5', 'from=yesterday']) {
      const res = await history(q);
      expect(res.status, q).toBe(400);
      expect(res.json.type, q).toBe('urn:carapace:problem:validation');
    }
  });

  it('deletes snapshots older than the retention (one hour here) when it records the next', async () => {
    clock.advance(50 * MINUTE);
    expect(await cp.listeners.governanceHistory.recordIfDue()).toBeGreaterThan(0);
    expect((await denies(`measure=deny-events&from=${at(-60)}&to=${at(120)}`)).map((p) => p.at)).toEqual([
      at(16),
      at(66),
    ]);
  });
});
