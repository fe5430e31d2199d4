import { afterAll, describe, expect, it } from 'vitest';
import { type Cluster, createCluster } from '../cluster/index.js';
import { createLogger, FixedClock } from '../platform/index.js';
import {
  createClusterFailureCounter,
  createMemoryFailureCounter,
  type FailureCounter,
  LoginThrottle,
} from './login-throttle.js';

const opened: Cluster[] = [];
afterAll(async () => {
  for (const c of opened) await c.close();
});
/** A cluster adapter of its own, as another process would open. */
async function redisCounter(): Promise<FailureCounter> {
  const redis = { url: process.env.REDIS_URL as string, keyPrefix: 'carapace-test:', commandTimeoutMs: 1000 };
  const cluster = await createCluster({ redis }, { log: createLogger('silent') });
  opened.push(cluster);
  return createClusterFailureCounter(cluster, 'signin');
}

const counters: Array<[string, () => FailureCounter | Promise<FailureCounter>]> = [
  ['memory', createMemoryFailureCounter],
];
if (process.env.REDIS_URL) counters.push(['redis', redisCounter]);

describe.each(counters)('sign-in throttle (%s)', (_name, make) => {
  const unique = () => `${Date.now()}-${Math.random()}`;

  it('locks an account after its limit, and forgets after the window and after a success', async () => {
    const clock = new FixedClock();
    const t = new LoginThrottle(clock, { perAccount: 3, perSource: 5, windowSeconds: 60 }, await make());
    const account = `a-${unique()}@x`;
    for (let i = 0; i < 3; i++) await t.fail(account, `src-${unique()}`);
    expect(await t.accountBlocked(account)).toBe(true);
    clock.advance(61_000);
    expect(await t.accountBlocked(account)).toBe(false);
    for (let i = 0; i < 2; i++) await t.fail(account, `src-${unique()}`);
    await t.succeed(account);
    await t.fail(account, `src-${unique()}`);
    expect(await t.accountBlocked(account)).toBe(false);
    await t.close();
  });

  it('stops counting against accounts once a source is blocked, so one source cannot keep others locked out', async () => {
    const t = new LoginThrottle(new FixedClock(), { perAccount: 3, perSource: 5, windowSeconds: 60 }, await make());
    const source = `src-${unique()}`;
    for (let i = 0; i < 5; i++) await t.fail(`nobody${i}-${unique()}@x`, source);
    expect(await t.sourceBlocked(source)).toBe(true);
    const victim = `victim-${unique()}@x`;
    for (let i = 0; i < 10; i++) await t.fail(victim, source);
    expect(await t.accountBlocked(victim)).toBe(false);
    await t.close();
  });

  it('reserves places atomically: of 60 parallel attempts from one source, exactly the limit get one', async () => {
    const t = new LoginThrottle(new FixedClock(), { perAccount: 100, perSource: 30, windowSeconds: 60 }, await make());
    const source = `burst-${unique()}`;
    const attempts = await Promise.all(Array.from({ length: 60 }, (_, i) => t.begin(`n${i}-${unique()}@x`, source)));
    expect(attempts.filter((a) => !a.sourceBlocked)).toHaveLength(30);
    // A success gives its place back; a failure keeps it.
    const admitted = attempts.filter((a) => !a.sourceBlocked);
    await admitted[0]!.succeeded();
    await admitted[1]!.failed();
    expect((await t.begin(`late-${unique()}@x`, source)).sourceBlocked).toBe(false);
    expect((await t.begin(`later-${unique()}@x`, source)).sourceBlocked).toBe(true);
    await t.close();
  });

  it('shares counts between processes that share the store', async () => {
    const store = await make();
    const a = new LoginThrottle(new FixedClock(), { perAccount: 3, perSource: 50, windowSeconds: 60 }, store);
    const b = new LoginThrottle(
      new FixedClock(),
      { perAccount: 3, perSource: 50, windowSeconds: 60 },
      _name === 'redis' ? await make() : store,
    );
    const account = `shared-${unique()}@x`;
    await a.fail(account, 's1');
    await b.fail(account, 's2');
    await a.fail(account, 's3');
    expect(await b.accountBlocked(account)).toBe(true);
    await a.close();
    await b.close();
  });
});

describe('memory throttle store', () => {
  it('forgets keys with no recent failure when swept', async () => {
    const clock = new FixedClock();
    const store = createMemoryFailureCounter();
    const t = new LoginThrottle(clock, { perAccount: 3, perSource: 500, windowSeconds: 60 }, store);
    for (let i = 0; i < 100; i++) await t.fail(`typed${i}@x`, '10.0.0.2');
    clock.advance(61_000);
    await t.sweep();
    expect(store.size()).toBe(0);
  });
});
