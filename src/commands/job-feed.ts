import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Kysely } from 'kysely';
import type { Cluster } from '../cluster/index.js';
import type { Logger } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { CommandJob } from './job-store.js';

const CHANNEL = 'commands:job-changed';
const ID = /^[A-Za-z0-9_-]{8,64}$/;

/** Pushes job state changes to the clients that follow a job (server-sent events), from any process. */
export interface JobFeed {
  /** Calls `onJob` with each new state of job `jobId` until the returned function is called. */
  follow(jobId: string, onJob: (job: CommandJob) => void): () => void;
  start(): Promise<void>;
  stop(): void;
}

/**
 * One feed per process instead of one database poll per open stream: a change made here reaches this process's
 * followers at once and is announced on the cluster's pub/sub by job id only; a process that hears of a job its
 * clients follow re-reads it from the database (the message is a hint, never the state). A single backstop read
 * of every followed job, every `backstopMs`, covers a lost message or a deployment without Redis.
 */
export function createJobFeed(deps: {
  db: Kysely<Database>;
  /** The dispatcher's local event stream ('job' events for every change this process makes). */
  events: EventEmitter;
  cluster: Pick<Cluster, 'publish' | 'subscribe'>;
  log: Logger;
  backstopMs?: number;
}): JobFeed {
  const origin = randomUUID();
  const followers = new Map<string, Set<(job: CommandJob) => void>>();
  let timer: NodeJS.Timeout | null = null;
  const deliver = (job: CommandJob) => {
    for (const f of followers.get(job.id) ?? []) f(job);
  };
  const reread = async (ids: string[]) => {
    for (let i = 0; i < ids.length; i += 500) {
      const jobs = await deps.db
        .selectFrom('command_jobs')
        .selectAll()
        .where('id', 'in', ids.slice(i, i + 500))
        .execute();
      jobs.forEach(deliver);
    }
  };
  const onLocal = (job: CommandJob) => {
    deliver(job);
    void deps.cluster
      .publish(CHANNEL, JSON.stringify({ v: 1, jobId: job.id, origin }), { exception: 'job-feed' })
      .catch(() => undefined);
  };
  const onMessage = (message: string) => {
    let m: unknown;
    try {
      m = JSON.parse(message);
    } catch {
      return;
    }
    const { v, jobId, origin: from } = (m ?? {}) as Record<string, unknown>;
    if (v !== 1 || from === origin || typeof jobId !== 'string' || !ID.test(jobId) || !followers.has(jobId)) return;
    reread([jobId]).catch((err: unknown) => deps.log.warn({ err }, 'reading an announced job change failed'));
  };
  return {
    follow(jobId, onJob) {
      let set = followers.get(jobId);
      if (!set) followers.set(jobId, (set = new Set()));
      set.add(onJob);
      return () => {
        set.delete(onJob);
        if (set.size === 0 && followers.get(jobId) === set) followers.delete(jobId);
      };
    },
    async start() {
      deps.events.on('job', onLocal);
      await deps.cluster.subscribe(CHANNEL, onMessage);
      timer = setInterval(() => {
        if (followers.size === 0) return;
        reread([...followers.keys()]).catch((err: unknown) =>
          deps.log.warn({ err }, 'reading followed jobs failed; retrying at the next poll'),
        );
      }, deps.backstopMs ?? 2000);
      timer.unref();
    },
    stop() {
      deps.events.off('job', onLocal);
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
