import type { Config } from '../config/index.js';
import { checkDeliverySettings, createDeliveryWorker, type WorkerStatus } from './delivery.js';
import { createEntitlement } from './entitlement.js';
import { createFanout } from './fanout.js';
import { createWebhookKeySet, type WebhookKeySet } from './key-set.js';
import type { WebhookDeps } from './ports.js';
import { createQueue, type Queue } from './queue.js';
import { createSubscriptions, type Subscriptions } from './subscriptions.js';

/** The running webhooks module of one process. */
export interface Webhooks {
  subscriptions: Subscriptions;
  queue: Queue;
  keys: WebhookKeySet;
  status(): WorkerStatus & { fanoutLeaseHeld: boolean };
  /** One fan-out round and one delivery round now (tests, the CLI); resolves when the attempts started. */
  runOnce(): Promise<{ queued: number; started: number }>;
  /** Waits for the attempts in flight. */
  drain(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

/** Builds the module from `webhooks.*`; nothing runs until `start`. */
export function createWebhooks(config: Config, deps: WebhookDeps): Webhooks {
  const w = config.webhooks;
  const settings = {
    concurrency: w.concurrency,
    batchSize: w.batchSize,
    timeoutMs: w.timeout * 1000,
    retryBaseMs: w.retryBase * 1000,
    retryMaxMs: w.retryMax * 1000,
    maxAttempts: w.maxAttempts,
    disableAfter: w.disableAfter,
    leaseTtlMs: w.leaseTtl * 1000,
  };
  checkDeliverySettings(settings);
  const log = deps.log.child({ module: 'webhooks' });
  const entitlement = createEntitlement(deps);
  const keys = createWebhookKeySet(deps, w.keyOverlap);
  const fanout = createFanout(
    { ...deps, entitlement },
    { batchSize: w.batchSize, leaseTtlSeconds: Math.max(1, Math.round(w.leaseTtl)) },
  );
  const worker = createDeliveryWorker({ ...deps, log, keys, entitlement, node: fanout.lease.token }, settings);
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = true;

  const round = () => {
    running = running.then(async () => {
      const queued = await fanout.round();
      const started = await worker.round();
      return { queued, started };
    });
    return running as Promise<{ queued: number; started: number }>;
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      void round()
        .catch((err: unknown) => log.error({ err }, 'webhook round failed'))
        .finally(schedule);
    }, w.interval * 1000);
    timer.unref();
  };

  return {
    subscriptions: createSubscriptions(deps, {
      secretOverlapSeconds: w.secretOverlap,
      maxPerTenant: w.maxSubscriptionsPerTenant,
    }),
    queue: createQueue(deps),
    keys,
    status: () => ({ ...worker.status(), fanoutLeaseHeld: fanout.lease.held }),
    runOnce: round,
    drain: () => worker.drain(),
    start() {
      if (!stopped || !w.enabled) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running.catch(() => undefined);
      await worker.drain();
      await fanout.lease.release().catch(() => undefined);
    },
  };
}
