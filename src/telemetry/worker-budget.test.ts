import { describe, expect, it } from 'vitest';
import { WorkerBudget } from './worker-budget.js';

describe('WorkerBudget', () => {
  it('runs up to its concurrency, queues up to its queue, and refuses the rest', async () => {
    const budget = new WorkerBudget(1, 1);
    let release: () => void = () => {};
    const blocker = new Promise<void>((r) => (release = r));
    const order: string[] = [];
    const first = budget.run(async () => {
      await blocker;
      order.push('first');
    });
    const second = budget.run(async () => {
      order.push('second');
    });
    expect(budget.load()).toEqual({ running: 1, waiting: 1 });
    await expect(budget.run(async () => order.push('third'))).rejects.toMatchObject({ code: 'ERR_TELEMETRY_BUSY' });
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['first', 'second']);
    expect(budget.load()).toEqual({ running: 0, waiting: 0 });
  });

  it('frees its slot when work fails', async () => {
    const budget = new WorkerBudget(1, 0);
    await expect(
      budget.run(async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(budget.run(async () => 'ok')).resolves.toBe('ok');
  });
});
