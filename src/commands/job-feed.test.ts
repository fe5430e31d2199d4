import { EventEmitter } from 'node:events';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryCluster } from '../cluster/index.js';
import { createLogger } from '../platform/index.js';
import type { Storage } from '../storage/index.js';
import { testDatabases } from '../testing/index.js';
import { createJobFeed } from './job-feed.js';
import type { CommandJob } from './job-store.js';

const closing: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closing.splice(0).reverse()) await c();
});
const log = createLogger('silent');
const JOB = '0b8f7c2e-5d3a-4f61-9a0e-1c2d3e4f5a6b';

async function insertJob(db: Storage['db']): Promise<CommandJob> {
  await sql`insert into vehicles (id, vin, created_at) values ('car-1', null, '2026-01-01T00:00:00.000Z')`.execute(db);
  const at = '2026-01-01T00:00:00.000Z';
  const row = {
    id: JOB,
    vehicle_id: 'car-1',
    device_id: null,
    tenant_id: null,
    batch_id: null,
    command: 'lock',
    params: '{}',
    params_hash: 'h',
    requester_id: 'u',
    client_id: 'c',
    state: 'requested' as const,
    reason: null,
    retry: null,
    decision_record: '{}',
    decision_hash: 'd',
    policy_version: 'p',
    created_at: at,
    expires_at: '2026-01-01T00:05:00.000Z',
    updated_at: at,
    counter: null,
    kid: null,
    envelope_signed: null,
    envelope_sig: null,
    ack_signed: null,
    ack_sig: null,
  };
  await db.insertInto('command_jobs').values(row).execute();
  return row as CommandJob;
}

describe.each(testDatabases().map((d) => [d.name, d] as const))('the job feed (%s)', (_name, database) => {
  async function twoProcesses(backstopMs: number) {
    const storage = await database.open();
    closing.push(() => storage.close());
    const cluster = createMemoryCluster({ now: () => Date.now() });
    const [here, there] = [new EventEmitter(), new EventEmitter()];
    const a = createJobFeed({ db: storage.db, events: here, cluster, log, backstopMs });
    const b = createJobFeed({ db: storage.db, events: there, cluster, log, backstopMs });
    await a.start();
    await b.start();
    closing.push(
      () => a.stop(),
      () => b.stop(),
    );
    return { db: storage.db, here, cluster, a, b };
  }
  const confirm = (db: Storage['db']) =>
    db.updateTable('command_jobs').set({ state: 'confirmed' }).where('id', '=', JOB).execute();

  it('a change made on one process is pushed to a follower on another, with no poll', async () => {
    const { db, here, b } = await twoProcesses(3_600_000);
    const job = await insertJob(db);
    const seen: string[] = [];
    b.follow(job.id, (j) => seen.push(j.state));
    await confirm(db);
    here.emit('job', { ...job, state: 'confirmed' });
    await expect.poll(() => seen).toEqual(['confirmed']);
  });

  it('the message is a hint: the follower gets the state from the database, not from the message', async () => {
    const { db, cluster, b } = await twoProcesses(3_600_000);
    const job = await insertJob(db);
    const seen: string[] = [];
    b.follow(job.id, (j) => seen.push(j.state));
    await cluster.publish('commands:job-changed', JSON.stringify({ v: 1, jobId: job.id, origin: 'x', state: 'x' }));
    await expect.poll(() => seen).toEqual(['requested']);
    await cluster.publish('commands:job-changed', 'not json');
    await cluster.publish('commands:job-changed', JSON.stringify({ v: 1, jobId: "x' or 1=1 --", origin: 'x' }));
  });

  it('without a message (no Redis, or one lost) the backstop read still brings the change', async () => {
    const { db, b } = await twoProcesses(50);
    const job = await insertJob(db);
    const seen: string[] = [];
    b.follow(job.id, (j) => seen.push(j.state));
    await confirm(db);
    await expect.poll(() => seen.at(-1)).toBe('confirmed');
  });

  it('a follower that stopped following hears nothing more', async () => {
    const { db, here, b } = await twoProcesses(3_600_000);
    const job = await insertJob(db);
    const seen: string[] = [];
    const unfollow = b.follow(job.id, (j) => seen.push(j.state));
    unfollow();
    here.emit('job', job);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([]);
  });
});
