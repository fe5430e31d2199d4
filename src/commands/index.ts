import type { Kysely } from 'kysely';
import type { Cluster } from '../cluster/index.js';
import type { CommandAuditLog } from './audit-events.js';
import type { Config } from '../config/index.js';
import type { Clock } from '../platform/index.js';
import type { Logger, Tracer } from '../platform/index.js';
import type { Pki } from '../pki/index.js';
import type { DecisionPoint, EntityLoader } from '../policy/index.js';
import type { OwnershipCascade } from '../relationships/index.js';
import type { Database } from '../storage/index.js';
import { createCommandKeys, type CommandKeys } from './command-keys.js';
import { createDispatcher, type Dispatcher } from './dispatcher.js';
import { createJobFeed, type JobFeed } from './job-feed.js';
import { createIdempotency } from './idempotency.js';
import { transition } from './job-store.js';
import { createClusterLimitCounter } from './limits.js';
import { type CommandService, createCommandService } from './service.js';

export {
  COMMAND_CATALOG,
  COMMAND_NAMES,
  COMMAND_SCOPES,
  DELEGABLE_COMMANDS,
  STEP_UP_COMMANDS,
  MAX_COMMAND_TTL_SECONDS,
  commandType,
  type CommandType,
  type CommandName,
} from './catalog.js';
export { commandMigrations } from './migrations.js';
export { jobOutcomes, recentJobs, recentJobsOf } from './job-store.js';
export type { CommandTables, JobState } from './tables.js';
export { registerCommandRoutes } from './routes.js';
export { registerBulkCommandRoute } from './bulk-route.js';
export { COMMAND_CHANNEL_PATH, registerCommandChannel } from './channel-route.js';
export { COMMAND_SIGNING_EKU, type CommandKeys } from './command-keys.js';
export type { Dispatcher } from './dispatcher.js';
export type { CommandService } from './service.js';
export { COMMANDS_AUDIT_EVENTS, type CommandAuditEvent, type CommandAuditLog } from './audit-events.js';

/** The commands module as the platform holds it. */
export interface Commands {
  keys: CommandKeys;
  service: CommandService;
  dispatcher: Dispatcher;
  /** Pushes job state changes to followers on any process. */
  feed: JobFeed;
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The reaction of commands to an ownership that ends: every job on the vehicle that is not final ends in the
 * same transaction, whoever requested it (the previous owner, their drivers, an agent on their case). A job
 * already delivered ends `rejected` with `retry: unsafe` (the vehicle may have received it) and is never
 * re-sent. Built on its own, before the relationship services that call it, so nothing is patched in later.
 */
export function createJobsEndWithOwnership(deps: { audit: CommandAuditLog; clock: Clock }): OwnershipCascade {
  const { audit, clock } = deps;
  return async (trx, { vehicleId, ownerId }) => {
    const jobs = await trx
      .selectFrom('command_jobs')
      .selectAll()
      .where('vehicle_id', '=', vehicleId)
      .where('state', 'in', ['requested', 'authorized', 'queued', 'delivered'])
      .execute();
    let ended = 0;
    for (const job of jobs)
      if (
        await transition(trx, { audit, clock }, job, {
          to: 'rejected',
          actor: `user:${ownerId}`,
          reason: 'vehicle transferred: the jobs of the previous ownership end',
          set: { retry: job.state === 'delivered' ? 'unsafe' : 'safe' },
        })
      )
        ended++;
    return ended;
  };
}

/** Builds the commands module over the platform's storage, PKI and policy decision point. */
export async function createCommands(deps: {
  db: Kysely<Database>;
  audit: CommandAuditLog;
  clock: Clock;
  log: Logger;
  /** Its own configuration section only. */
  settings: Config['commands'];
  /** What it needs of the PKI: the key provider and root CA for command keys, and quarantining a cloned device. */
  pki: Pick<Pki, 'changeDeviceStatus'> & {
    ctx: { keys: Pki['ctx']['keys']; authorities: { root: Pki['ctx']['authorities']['root'] } };
  };
  decisions: DecisionPoint;
  load: EntityLoader;
  isQuarantined: (deviceId: string) => Promise<boolean>;
  /** The process's cluster adapter: limits, idempotency reservations and job routing go through it. */
  cluster: Cluster;
  /** Spans of routing, dispatch and acknowledgement (untraced when absent). */
  tracer?: Tracer;
}): Promise<Commands> {
  const { db, audit, clock } = deps;
  const c = deps.settings;
  const keys = await createCommandKeys({
    db,
    keys: deps.pki.ctx.keys,
    clock,
    audit,
    root: deps.pki.ctx.authorities.root,
    allowGenerate: true,
    // A rotation on this process reaches the channels held here at once; other processes (and a rotation from
    // the CLI) notice the changed set at their next dispatch tick.
    afterRotate: () => dispatcher.pushKeysIfChanged(),
  });
  // The enrollment and rotation bundles carry the keys vehicles pin.
  const limits = createClusterLimitCounter(deps.cluster);
  const idempotency = createIdempotency({
    db,
    clock,
    ttlSeconds: c.idempotencyTtl,
    reclaimAfterSeconds: c.idempotencyReclaimAfter,
    cluster: deps.cluster,
  });
  const service = createCommandService({
    db,
    audit,
    clock,
    settings: c,
    limits,
    idempotency,
    isQuarantined: deps.isQuarantined,
  });
  const operatorTenant = async () => (await deps.load.platform()).object?.operatorTenantId ?? '';
  const dispatcher = createDispatcher({
    db,
    audit,
    clock,
    log: deps.log,
    keys,
    decisions: deps.decisions,
    load: deps.load,
    isQuarantined: deps.isQuarantined,
    cluster: deps.cluster,
    intervalSeconds: c.dispatchInterval,
    operatorTenant,
    duplicateChannel: c.duplicateChannel,
    tracer: deps.tracer,
    quarantine: async (deviceId, reason, context) => {
      await deps.pki.changeDeviceStatus({
        deviceId,
        to: 'quarantined',
        reason,
        actor: { type: 'system', id: 'commands' },
        context,
      });
    },
  });
  const feed = createJobFeed({ db, events: dispatcher.events, cluster: deps.cluster, log: deps.log });
  return {
    keys,
    service,
    dispatcher,
    feed,
    async start() {
      await dispatcher.start();
      await feed.start();
    },
    async close() {
      feed.stop();
      await dispatcher.stop();
      await limits.close();
      await idempotency.close();
    },
  };
}
