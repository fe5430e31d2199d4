import { describe, expect, it } from 'vitest';
import { createMemoryCluster } from '../cluster/index.js';
import { createEvaluator, type Hit } from './evaluate.js';
import { storedEvent } from './fixtures.js';
import { networkOf } from './network.js';
import { checkOverrides, type RuleOverrides } from './overrides.js';
import { parseRule, RuleFileError } from './rule.js';

type Ev = Parameters<typeof storedEvent>[0];

function rule(evaluate: object, extra: object = {}) {
  const r = {
    id: 'r',
    version: 1,
    title: 't',
    description: 'd',
    severity: 'high',
    enabled: true,
    match: { types: ['x.y'] },
    key: ['actor.id'],
    evaluate,
    assets: { users: ['actor.id'] },
    regroup: '1h',
    because: '{count} for {key} in {window} ({threshold})',
    ...extra,
  };
  return parseRule('r.json', JSON.stringify(r));
}

async function run(evaluate: object, events: Ev[], extra: object = {}, options: { overrides?: RuleOverrides } = {}) {
  const geo = [
    { cidr: '198.51.100.0/24', latitude: 48.14, longitude: 11.58, label: 'Munich' },
    { cidr: '203.0.113.0/24', latitude: 40.71, longitude: -74.0, label: 'New York' },
  ];
  const ev = createEvaluator({ rules: [rule(evaluate, extra)], windows: createMemoryCluster(), geo, ...options });
  const fired: Array<{ at: number; hit: Hit }> = [];
  for (const [i, e] of events.entries())
    for (const hit of await ev.evaluate(storedEvent(e, i))) fired.push({ at: i, hit });
  return fired;
}

const e = (at: string, more: Partial<Ev> = {}): Ev => ({ at, type: 'x.y', actor: { type: 'user', id: 'u1' }, ...more });
const d = (at: string, details: Ev['details'], more: Partial<Ev> = {}) => e(at, { details, ...more });

describe('evaluation kinds', () => {
  it('threshold: fires at the threshold within the window, not one below or outside it; weight sums', async () => {
    const t = { kind: 'threshold', threshold: 3, window: '10s' };
    expect((await run(t, [e('+0s'), e('+5s'), e('+9s')])).map((f) => f.at)).toEqual([2]);
    expect(await run(t, [e('+0s'), e('+5s')])).toEqual([]);
    expect(await run(t, [e('+0s'), e('+5s'), e('+10s')])).toEqual([]);
    expect(await run(t, [e('+0s'), e('+1s', { actor: { type: 'user', id: 'u2' } }), e('+2s')])).toEqual([]);
    const w = { ...t, weight: 'details.count' };
    expect((await run(w, [d('+0s', { count: 2 }), d('+1s', { count: 1 })])).map((f) => f.at)).toEqual([1]);
  });

  it('threshold: a flood on one key is counted, never read whole: each event reads at most the evidence', async () => {
    const memory = createMemoryCluster();
    const reads: number[] = [];
    const windows = {
      ...memory,
      windowRange: async (key: string, from: number, to: number, limit: number) => {
        const got = await memory.windowRange(key, from, to, limit);
        reads.push(got.length);
        return got;
      },
    };
    const ev = createEvaluator({ rules: [rule({ kind: 'threshold', threshold: 5, window: '1h' })], windows, geo: [] });
    let fired = 0;
    for (let i = 0; i < 600; i++) fired += (await ev.evaluate(storedEvent(e(`+${i}s`), i))).length;
    // Below the threshold nothing is read; from the fifth event on, at most EVIDENCE_LIMIT (200) members each time.
    expect(fired).toBe(596);
    expect(reads).toHaveLength(596);
    expect(Math.max(...reads)).toBe(200);
  });

  it('distinct: counts distinct values; sequential counts the longest consecutive run under one prefix', async () => {
    const t = { kind: 'distinct', threshold: 3, window: '60s', field: 'details.vin' };
    const vins = (list: string[]) => list.map((v, i) => d(`+${i}s`, { vin: v }));
    expect(await run(t, vins(['A1', 'A1', 'B2']))).toEqual([]);
    expect((await run(t, vins(['A1', 'C9', 'B2']))).map((f) => f.at)).toEqual([2]);
    const seq = { ...t, sequential: true };
    expect((await run(seq, vins(['WVW000123', 'WVW000125', 'WVW000124']))).map((f) => f.at)).toEqual([2]);
    expect(await run(seq, vins(['WVW000123', 'WVW000500', 'WVW000911']))).toEqual([]);
    expect(await run(seq, vins(['AAA000123', 'BBB000124', 'CCC000125']))).toEqual([]);
    // Real North American VINs: the check digit (9th character) changes with every serial; it is not the prefix.
    const checked = ['1HGCM82633A004352', '1HGCM82653A004353', '1HGCM82673A004354'];
    expect((await run(seq, vins(checked))).map((f) => f.at)).toEqual([2]);
    // Another plant or model year (11th, 10th character) is another prefix.
    expect(await run(seq, vins(['1HGCM82633A004352', '1HGCM82653B004353', '1HGCM82674A004354']))).toEqual([]);
    // A string[] detail contributes each element.
    const list = { ...t, field: 'details.vins' };
    expect(await run(list, [d('+0s', { vins: ['X1', 'X2', 'X3'] })])).toHaveLength(1);
    expect(await run(list, [d('+0s', { vins: ['X1', 'X2'] })])).toHaveLength(0);
  });

  it('new-value: fires when the key shows a second value within the window of the first, not on a repeat', async () => {
    const t = { kind: 'new-value', field: 'net(context.sourceIp)', window: '1h' };
    const from = (at: string, ip: string) => e(at, { context: { sourceIp: ip } });
    const fired = await run(t, [from('+0s', '198.51.100.1'), from('+1s', '198.51.100.9'), from('+2s', '203.0.113.5')]);
    expect(fired.map((f) => f.at)).toEqual([2]);
    expect(fired[0]?.hit.evidence).toHaveLength(2);
    expect(await run(t, [from('+0s', '198.51.100.1'), from('+2h', '203.0.113.5')])).toEqual([]);
  });

  it('sequence: first then later then on the same key within the window; not then alone or reversed', async () => {
    const t = {
      kind: 'sequence',
      first: { types: ['x.y'], where: [{ field: 'action', op: 'eq', value: 'claim' }] },
      then: { types: ['x.y'], where: [{ field: 'action', op: 'eq', value: 'transfer' }] },
      within: '1h',
    };
    const claim = (at: string) => e(at, { action: 'claim' });
    const transfer = (at: string) => e(at, { action: 'transfer' });
    expect((await run(t, [claim('+0s'), transfer('+30m')])).map((f) => f.at)).toEqual([1]);
    expect(await run(t, [transfer('+0s')])).toEqual([]);
    expect(await run(t, [claim('+0s'), transfer('+2h')])).toEqual([]);
  });

  it('ratio: the share matching the numerator, once the denominator reaches the minimum', async () => {
    const t = { kind: 'ratio', numerator: { decisions: ['deny'] }, threshold: 0.5, minimum: 4, window: '60s' };
    const ok = (at: string) => e(at, { decision: 'allow' });
    const no = (at: string) => e(at, { decision: 'deny' });
    expect((await run(t, [ok('+0s'), no('+1s'), ok('+2s'), no('+3s')])).map((f) => f.at)).toEqual([3]);
    expect(await run(t, [no('+0s'), no('+1s'), no('+2s')])).toEqual([]);
    expect(await run(t, [ok('+0s'), ok('+1s'), ok('+2s'), no('+3s')])).toEqual([]);
  });

  it('baseline: the current bucket against factor x the mean of the previous buckets, and the minimum', async () => {
    const t = { kind: 'baseline', bucket: '1m', history: 2, factor: 3, minimum: 3 };
    const steady = ['+0s', '+60s', '+120s', '+121s'].map((at) => e(at));
    expect(await run(t, steady)).toEqual([]);
    const burst = ['+0s', '+60s', ...Array.from({ length: 4 }, (_, i) => `+${120 + i}s`)].map((at) => e(at));
    // Mean of the two buckets before is 1: the third event in the current bucket reaches both 3 x 1 and the minimum.
    expect((await run(t, burst)).map((f) => f.at)).toEqual([4, 5]);
  });

  it('travel: sign-ins too far apart for the time between them; unknown addresses are not judged', async () => {
    const t = { kind: 'travel', field: 'context.sourceIp', maxKmh: 1000 };
    const at = (when: string, ip: string) => e(when, { context: { sourceIp: ip } });
    expect((await run(t, [at('+0s', '198.51.100.1'), at('+1h', '203.0.113.1')])).map((f) => f.at)).toEqual([1]);
    expect(await run(t, [at('+0s', '198.51.100.1'), at('+10h', '203.0.113.1')])).toEqual([]);
    expect(await run(t, [at('+0s', '198.51.100.1'), at('+1m', '192.0.2.1')])).toEqual([]);
  });

  it('matching: decisions, reasons, where ops, and events with a missing key field are not counted', async () => {
    const t = { kind: 'threshold', threshold: 1, window: '1m' };
    const m = (match: object) => ({ match: { types: ['x.y'], ...match } });
    expect(await run(t, [e('+0s', { decision: 'allow' })], m({ decisions: ['deny'] }))).toEqual([]);
    expect(await run(t, [e('+0s', { reason: 'a' })], m({ reasons: ['b'] }))).toHaveLength(0);
    const where = (op: string, value?: unknown) => m({ where: [{ field: 'details.k', op, value }] });
    expect(await run(t, [d('+0s', { k: 'v' })], where('eq', 'v'))).toHaveLength(1);
    expect(await run(t, [d('+0s', { k: 'v' })], where('ne', 'v'))).toHaveLength(0);
    expect(await run(t, [d('+0s', { k: 'v' })], where('in', ['w', 'v']))).toHaveLength(1);
    expect(await run(t, [d('+0s', {})], where('exists'))).toHaveLength(0);
    expect(await run(t, [d('+0s', {})], where('absent'))).toHaveLength(1);
    expect(await run(t, [d('+0s', { k: 'vehicle:1' })], where('prefix', 'vehicle:'))).toHaveLength(1);
    expect(await run(t, [e('+0s', { actor: { type: 'user', id: null } })])).toHaveLength(0);
    expect(await run(t, [e('+0s', { type: 'x.z' })])).toHaveLength(0);
  });

  it('reads detection events only when a rule names detect. types; a meta-rule never reads its kind', async () => {
    const t = { kind: 'threshold', threshold: 1, window: '1m' };
    const finding = (meta: boolean) => d('+0s', { metaRule: meta }, { type: 'detect.finding.raised' });
    expect(await run(t, [finding(false)], { match: { types: ['detect.finding.raised'] } })).toHaveLength(1);
    expect(await run(t, [finding(true)], { match: { types: ['detect.*'] } })).toHaveLength(0);
    expect(await run(t, [finding(false)], { match: {} })).toHaveLength(0);
  });

  it('applies per-rule and per-tenant overrides, and refuses unknown rules and parameters', async () => {
    const t = { kind: 'threshold', threshold: 3, window: '10s' };
    const ev = (at: string, tenantId: string) => e(at, { tenantId });
    const overrides = { r: { threshold: 5, tenants: { t1: { threshold: 1, severity: 'critical' } } } } as RuleOverrides;
    const fired = await run(t, [ev('+0s', 't1'), ev('+1s', 't2'), ev('+2s', 't2')], {}, { overrides });
    expect(fired.map((f) => [f.at, f.hit.severity])).toEqual([[0, 'critical']]);
    // One key across tenants: an event of a tenant with a shorter window does not trim the longer window's members.
    const short = { r: { tenants: { noisy: { window: '1s' } } } } as RuleOverrides;
    const mixed = [ev('+0s', 't2'), ev('+3s', 't2'), ev('+5s', 'noisy'), ev('+6s', 't2')];
    expect((await run(t, mixed, {}, { overrides: short })).map((f) => f.at)).toEqual([3]);
    const r = [rule(t)];
    expect(() => checkOverrides(r, { nope: {} })).toThrow(RuleFileError);
    expect(() => checkOverrides(r, { r: { field: 'x' } })).toThrow(/not an overridable parameter/);
    expect(() => checkOverrides(r, { r: { window: 'soon' } })).toThrow(/duration/);
    expect(() => checkOverrides(r, JSON.parse('{"r":{"tenants":{"t1":{"enabled":"no"}}}}') as RuleOverrides)).toThrow(
      /r\.tenants\.t1\.enabled/,
    );
  });

  it('renders net() as the /24 or /64', () => {
    expect(networkOf('203.0.113.77')).toBe('203.0.113.0/24');
    expect(networkOf('::ffff:203.0.113.77')).toBe('203.0.113.0/24');
    expect(networkOf('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(networkOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(networkOf('not-an-ip')).toBeNull();
  });
});

describe('rule file validation', () => {
  const base = () =>
    JSON.parse(JSON.stringify(rule({ kind: 'threshold', threshold: 1, window: '1m' }))) as Record<string, unknown>;
  const parse = (edit: (r: Record<string, unknown>) => void) => {
    const r = base();
    delete r.file;
    delete r.digest;
    edit(r);
    return () => parseRule('r.json', JSON.stringify(r));
  };
  it('names the file and the field of an unknown field, a bad kind, a bad path, a bad duration, a wrong id', () => {
    expect(parse((r) => (r.extra = 1))).toThrow(/r\.json: .*extra|r\.json/);
    expect(parse((r) => (r.evaluate = { kind: 'threshold', threshold: 1, window: '1m', colour: 'red' }))).toThrow(
      /r\.json: evaluate/,
    );
    expect(parse((r) => (r.key = ['actor.name']))).toThrow(/r\.json: key\.0 is not a field path/);
    expect(parse((r) => (r.regroup = '1 hour'))).toThrow(/r\.json: regroup/);
    expect(parse((r) => (r.id = 'other'))).toThrow(/r\.json: id must equal the file name/);
    expect(parse((r) => (r.severity = 'severe'))).toThrow(/r\.json: severity/);
    expect(parse((r) => (r.match = { where: [{ field: 'details.a', op: 'in', value: 'x' }] }))).toThrow(
      /match\.where\.0\.value must be an array/,
    );
  });
});
