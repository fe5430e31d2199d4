import { CarapaceError } from '../platform/index.js';

/**
 * The ingestion worker budget: at most `concurrency` batches are processed at once in this process, and at
 * most `queue` more wait. Anything beyond is refused at once (503), so a flood of telemetry cannot take
 * the event loop, the database pool or memory away from the command path.
 */
export class WorkerBudget {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly queue: number,
  ) {}

  /** Runs `work` within the budget, or throws ERR_TELEMETRY_BUSY when the queue is full. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queue)
        throw new CarapaceError('ERR_TELEMETRY_BUSY', 'telemetry ingestion is at capacity; retry the batch later', {
          reason: 'worker_budget',
        });
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so `running` only drops when nobody waits.
      if (next) next();
      else this.running--;
    }
  }

  /** Batches running and waiting now. */
  load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
