import { afterEach, describe, expect, it } from 'vitest';
import { assertNoFaultPoints, faultPoint } from './fault-points.js';

describe('fault points', () => {
  afterEach(() => {
    delete process.env.CARAPACE_FAULT_POINTS;
  });

  it('production mode refuses to start with a fault point armed; development allows it', () => {
    process.env.CARAPACE_FAULT_POINTS = 'commands.after-reservation:exit';
    expect(() => assertNoFaultPoints('production')).toThrow(/refused in production/);
    expect(() => assertNoFaultPoints('development')).not.toThrow();
    delete process.env.CARAPACE_FAULT_POINTS;
    expect(() => assertNoFaultPoints('production')).not.toThrow();
  });

  it('an unarmed or differently named point returns at once', async () => {
    await expect(faultPoint('commands.after-reservation')).resolves.toBeUndefined();
    process.env.CARAPACE_FAULT_POINTS = 'commands.batch-after-reservation:hang';
    await expect(faultPoint('commands.after-reservation')).resolves.toBeUndefined();
  });
});
