import { describe, expect, it } from 'vitest';
import { FixedClock } from '../platform/clock.js';
import { LoginThrottle } from './login-throttle.js';

describe('sign-in throttle', () => {
  it('locks an account after its limit, and a source after its limit', () => {
    const clock = new FixedClock();
    const t = new LoginThrottle(clock, { perAccount: 3, perSource: 5, windowSeconds: 60 });
    for (let i = 0; i < 3; i++) t.fail('a@x', '10.0.0.1');
    expect(t.accountBlocked('a@x')).toBe(true);
    expect(t.sourceBlocked('10.0.0.1')).toBe(false);
    clock.advance(61_000);
    expect(t.accountBlocked('a@x')).toBe(false);
  });

  it('stops counting against accounts once a source is blocked, so one source cannot keep others locked out', () => {
    const t = new LoginThrottle(new FixedClock(), { perAccount: 3, perSource: 5, windowSeconds: 60 });
    for (let i = 0; i < 5; i++) t.fail(`nobody${i}@x`, '10.0.0.9');
    expect(t.sourceBlocked('10.0.0.9')).toBe(true);
    for (let i = 0; i < 10; i++) t.fail('victim@x', '10.0.0.9');
    expect(t.accountBlocked('victim@x')).toBe(false);
  });

  it('forgets keys with no recent failure when swept', () => {
    const clock = new FixedClock();
    const t = new LoginThrottle(clock, { perAccount: 3, perSource: 5, windowSeconds: 60 });
    for (let i = 0; i < 100; i++) t.fail(`typed${i}@x`, '10.0.0.2');
    clock.advance(61_000);
    t.sweep();
    expect((t as unknown as { failures: Map<string, number[]> }).failures.size).toBe(0);
  });
});
