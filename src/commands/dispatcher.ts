import { createChannelRegistry } from './channel-registry.js';
import type { KeyObject } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Kysely } from 'kysely';
import type { Cluster } from '../cluster/index.js';
import type { Clock } from '../platform/index.js';
import type { Logger } from '../platform/index.js';
import { faultPoint, type Tracer, untraced } from '../platform/index.js';
import { createJobTraces } from './job-traces.js';
import { JOB_ROUTING_CHANNEL as CHANNEL, routedVehicle, routingMessage } from './job-routing.js';
import type { DecisionPoint, EntityLoader } from '../policy/index.js';
import type { Database } from '../storage/index.js';
import type { RequestContext } from '../audit/index.js';
import type { CommandAuditLog } from './audit-events.js';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import {
  type AckClaims,
  AckClaimsSchema,
  type CommandFrame,
  type EnvelopeClaims,
  type KeySetReceiptClaims,
  KeySetReceiptClaimsSchema,
  type KeysFrame,
  parseCanonical,
  sha256,
  type SignedEnvelope,
  SignedEnvelopeSchema,
  verifyDetached,
} from '../wire/index.js';
import type { CommandKeys } from './command-keys.js';
import { createDeliveryAuthorization } from './delivery-authorization.js';
import { type CommandJob, expireDue, transition } from './job-store.js';

/** A vehicle's open command channel on this process. */
export interface ChannelConnection {
  deviceId: string;
  vehicleId: string;
  /** The public key of the certificate the channel was opened with: acknowledgements must verify with it. */
  certificateKey: KeyObject;
  certificateSerial: string;
  /** Where the channel came from (request id, trace, source address), for the audit trail. */
  context: RequestContext | null;
  send(message: string): void;
  close(code: number, reason: string): void;
  /** Pings the vehicle: true when it answers within `timeoutMs` (a live connection), false for a dead one. */
  probe(timeoutMs: number): Promise<boolean>;
}

/** What a second channel with the certificate of a live one gets (`commands.duplicateChannel`). */
export type DuplicateChannelResponse = 'refuse' | 'quarantine';

/** How long an open channel has to answer a ping before a newcomer with its certificate may replace it. */
const PROBE_MS = 3000;

// Acknowledgements are read with the wire contract the vehicle SDK signs them with (src/wire/commands.ts).
const isSignedAck = TypeCompiler.Compile(SignedEnvelopeSchema);
const isAckClaims = TypeCompiler.Compile(AckClaimsSchema);
const isReceiptClaims = TypeCompiler.Compile(KeySetReceiptClaimsSchema);
/** The device an envelope was signed for (its `deviceId` claim). */
const addressedDevice = (signed: string): string | null => {
  const c = parseCanonical(signed) as Partial<EnvelopeClaims> | null;
  return typeof c?.deviceId === 'string' ? c.deviceId : null;
};
/** A command frame for the channel, typed by the wire contract. */
const commandFrame = (envelope: SignedEnvelope): string =>
  JSON.stringify({ type: 'command', envelope } satisfies CommandFrame);

/**
 * Delivers queued jobs to the vehicles connected to this process, and confirms them from signed
 * acknowledgements. Authorization is asked again at dispatch (a relationship may have ended since the
 * request). Another process learns of a new job through the cluster adapter's pub/sub (Redis in cluster mode),
 * and in any case by its poll every `intervalSeconds`, so a request and a channel on different processes still meet.
 */
export function createDispatcher(deps: {
  db: Kysely<Database>;
  audit: CommandAuditLog;
  clock: Clock;
  log: Logger;
  keys: CommandKeys;
  decisions: DecisionPoint;
  load: EntityLoader;
  isQuarantined: (deviceId: string) => Promise<boolean>;
  cluster: Cluster;
  intervalSeconds: number;
  operatorTenant: () => Promise<string>;
  duplicateChannel: DuplicateChannelResponse;
  /** Quarantines a device through the PKI (which closes its connections on every process). */
  quarantine: (deviceId: string, reason: string, context: RequestContext | null) => Promise<void>;
  /** Spans for routing, dispatch and acknowledgement, children of the job's span (from the request). */
  tracer?: Tracer;
}) {
  const { db, clock } = deps;
  const tracer = deps.tracer ?? untraced;
  const traces = createJobTraces();
  const connections = new Map<string, ChannelConnection>();
  /** Channels held here whose claim across the deployment is not settled yet: nothing is sent to them. */
  const claiming = new Set<ChannelConnection>();
  const chains = new Map<string, Promise<void>>();
  const events = new EventEmitter();
  events.setMaxListeners(0);
  let timer: NodeJS.Timeout | null = null;
  const refusalOf = createDeliveryAuthorization(deps);
  // Which node holds each vehicle's channel: a clone on another node than the real unit is found too.
  const registry = createChannelRegistry({
    cluster: deps.cluster,
    log: deps.log,
    ttlSeconds: Math.max(15, Math.ceil(deps.intervalSeconds * 5)),
    probeMs: PROBE_MS,
    now: () => Date.now(),
  });

  const changed = (job: CommandJob | null) => {
    if (job) events.emit('job', job);
  };

  async function deliverOne(conn: ChannelConnection, job: CommandJob): Promise<void> {
    const span = tracer.start('commands.dispatch', traces.get(job.id), { 'carapace.job.id': job.id }, 'producer');
    try {
      await deliverTraced(conn, job, span.traceparent);
    } catch (err) {
      span.fail('delivery_failed');
      throw err;
    } finally {
      span.end();
    }
  }

  async function deliverTraced(conn: ChannelConnection, job: CommandJob, traceparent: string): Promise<void> {
    if (job.expires_at <= clock.now().toISOString()) {
      for (const j of await expireDue(db, deps, { jobId: job.id })) changed(j);
      return;
    }
    const refusal = await refusalOf(job, conn.deviceId, 'first');
    if (refusal) {
      changed(
        await db.transaction().execute((trx) =>
          transition(trx, deps, job, {
            to: 'rejected',
            actor: 'system:dispatcher',
            reason: refusal,
            set: { retry: 'safe' },
          }),
        ),
      );
      return;
    }
    const sent = await db.transaction().execute(async (trx) => {
      await trx
        .insertInto('command_counters')
        .values({ vehicle_id: job.vehicle_id, counter: 1 })
        .onConflict((oc) =>
          oc.column('vehicle_id').doUpdateSet((eb) => ({ counter: eb('command_counters.counter', '+', 1) })),
        )
        .execute();
      const { counter } = await trx
        .selectFrom('command_counters')
        .select(['counter'])
        .where('vehicle_id', '=', job.vehicle_id)
        .executeTakeFirstOrThrow();
      const claims: Omit<EnvelopeClaims, 'kid'> = {
        v: 1,
        vehicleId: job.vehicle_id,
        deviceId: conn.deviceId,
        jobId: job.id,
        command: job.command,
        params: JSON.parse(job.params) as Record<string, unknown>,
        paramsHash: job.params_hash,
        issuedAt: clock.now().getTime(),
        expiresAt: Date.parse(job.expires_at),
        counter: Number(counter),
        decisionHash: job.decision_hash,
      };
      const { kid, signed, sig } = await deps.keys.signEnvelope({ ...claims }, trx);
      const done = await transition(trx, deps, job, {
        to: 'delivered',
        actor: 'system:dispatcher',
        reason: `sent on the channel of device ${conn.deviceId}`,
        set: { counter: Number(counter), kid, envelope_signed: signed, envelope_sig: sig },
      });
      return done ? { job: done, envelope: { signed, sig } } : null;
    });
    if (!sent) return;
    traces.set(job.id, traceparent);
    changed(sent.job);
    conn.send(commandFrame(sent.envelope));
    await faultPoint('commands.after-delivery');
  }

  /**
   * Sends again the envelopes a reconnecting vehicle has not answered. Each re-send is authorized again like a
   * first delivery: a requester who lost access since (transfer, expired delegation, ended relationship) or a
   * unit that is no longer the job's ends the job as rejected, with `retry: unsafe` because the first send may
   * have reached the vehicle.
   */
  async function resendDelivered(conn: ChannelConnection): Promise<void> {
    const pending = await db
      .selectFrom('command_jobs')
      .selectAll()
      .where('vehicle_id', '=', conn.vehicleId)
      .where('state', '=', 'delivered')
      .where('expires_at', '>', clock.now().toISOString())
      .orderBy('created_at')
      .limit(50)
      .execute();
    for (const job of pending) {
      const refusal = await refusalOf(job, conn.deviceId, 'repeat');
      if (refusal) {
        changed(
          await db.transaction().execute((trx) =>
            transition(trx, deps, job, {
              to: 'rejected',
              actor: 'system:dispatcher',
              reason: refusal,
              set: { retry: 'unsafe' },
            }),
          ),
        );
        continue;
      }
      // Read again after the check: a transfer that committed meanwhile has ended the job, and it is not re-sent.
      const now = await db
        .selectFrom('command_jobs')
        .select(['state', 'envelope_signed', 'envelope_sig'])
        .where('id', '=', job.id)
        .executeTakeFirst();
      if (now?.state === 'delivered' && now.envelope_signed && now.envelope_sig)
        conn.send(commandFrame({ signed: now.envelope_signed, sig: now.envelope_sig }));
    }
  }

  /**
   * Delivers every queued job of one vehicle, one at a time and in order (after re-sending its unanswered
   * envelopes, when the channel has just opened).
   */
  function deliverQueued(vehicleId: string, opened?: ChannelConnection): Promise<void> {
    const round = async () => {
      const conn = connections.get(vehicleId);
      if (!conn || claiming.has(conn)) return;
      if (opened === conn) await resendDelivered(conn);
      const queued = await db
        .selectFrom('command_jobs')
        .selectAll()
        .where('vehicle_id', '=', vehicleId)
        .where('state', '=', 'queued')
        .orderBy('created_at')
        .limit(50)
        .execute();
      for (const job of queued) {
        try {
          await deliverOne(conn, job);
        } catch (err) {
          deps.log.warn({ err, jobId: job.id }, 'command delivery failed; will retry');
        }
      }
    };
    // A round never rejects: its callers fire it and forget it (the tick, pub/sub), and a database that could not
    // answer in time (a pool wait past its timeout while 2,500 channels opened) used to end the whole process with an
    // unhandled rejection. The jobs stay queued or delivered; the next tick or reconnect delivers them.
    const run = () =>
      round().catch((err: unknown) => deps.log.warn({ err, vehicleId }, 'command delivery round failed; will retry'));
    const next = (chains.get(vehicleId) ?? Promise.resolve()).then(run, run);
    chains.set(vehicleId, next);
    void next.finally(() => {
      if (chains.get(vehicleId) === next) chains.delete(vehicleId);
    });
    return next;
  }

  /**
   * Verifies a signed acknowledgement and moves its job to confirmed (or failed). Returns why it was refused, or null.
   */
  async function acknowledge(
    conn: ChannelConnection,
    ack: SignedEnvelope,
    options: { quiet?: boolean } = {},
  ): Promise<string | null> {
    const claimed = (isSignedAck.Check(ack) ? parseCanonical(ack.signed) : null) as Partial<AckClaims> | null;
    const jobId = typeof claimed?.jobId === 'string' ? claimed.jobId : null;
    const span = tracer.start('commands.acknowledge', jobId ? traces.get(jobId) : null, {}, 'consumer');
    const refused = await verifyAck(conn, ack, claimed, options).finally(() => span.end());
    if (refused) span.fail(refused);
    else if (jobId) traces.delete(jobId);
    return refused;
  }

  async function verifyAck(
    conn: ChannelConnection,
    ack: SignedEnvelope,
    claims: Partial<AckClaims> | null,
    options: { quiet?: boolean },
  ): Promise<string | null> {
    const refuse = async (reason: string) => {
      // A channel that keeps sending bad acks is closed by its route; past the first few, refusals are counted, not
      // each audited.
      if (options.quiet) return reason;
      await deps.audit.append(db, {
        type: 'commands.ack.refused',
        actor: { type: 'device', id: conn.deviceId },
        object: { type: 'command_job', id: typeof claims?.jobId === 'string' ? claims.jobId.slice(0, 64) : null },
        action: 'commands:acknowledge',
        decision: 'deny',
        reason,
        details: { serial: conn.certificateSerial },
      });
      return reason;
    };
    if (!claims || !isAckClaims.Check(claims)) return refuse('malformed');
    if (!verifyDetached(conn.certificateKey, ack.signed, ack.sig)) return refuse('bad_signature');
    if (claims.deviceId !== conn.deviceId || claims.vehicleId !== conn.vehicleId) return refuse('identity_mismatch');
    const job = await db.selectFrom('command_jobs').selectAll().where('id', '=', claims.jobId).executeTakeFirst();
    if (!job || job.vehicle_id !== conn.vehicleId || !job.envelope_signed) return refuse('unknown_job');
    if (claims.envelopeHash !== sha256(job.envelope_signed) || claims.counter !== job.counter)
      return refuse('envelope_mismatch');
    // Only the unit the envelope was addressed to can answer it: after a replacement the new unit's channel
    // (same vehicle, another device) cannot confirm the old unit's job, whatever its ack says.
    if (addressedDevice(job.envelope_signed) !== conn.deviceId) return refuse('wrong_device');
    if (job.state !== 'delivered') return refuse(`job_${job.state}`);
    // An answer that arrives at or after the expiry confirms nothing; the job expires now rather than at the sweep.
    const unexpiredAt = clock.now().toISOString();
    if (unexpiredAt >= job.expires_at) {
      for (const j of await expireDue(db, deps, { jobId: job.id })) changed(j);
      return refuse('ack_after_expiry');
    }
    const set = { ack_signed: ack.signed, ack_sig: ack.sig };
    const actor = `device:${conn.deviceId}`;
    await faultPoint('commands.before-ack-commit');
    const result = await db.transaction().execute(async (trx) => {
      if (claims.result === 'executed') {
        const executed = await transition(trx, deps, job, {
          to: 'executed',
          actor,
          reason: 'the vehicle reports it executed the command',
          set,
          unexpiredAt,
        });
        return (
          executed &&
          transition(trx, deps, executed, {
            to: 'confirmed',
            actor: 'system:ack-verifier',
            reason: `signed acknowledgement verified with the certificate ${conn.certificateSerial}`,
          })
        );
      }
      // A refusal means the vehicle did nothing, except a replay refusal: it had seen this envelope before.
      const retry = claims.result === 'refused' && claims.code !== 'replayed' ? 'safe' : 'unsafe';
      return transition(trx, deps, job, {
        to: 'failed',
        actor,
        reason: `vehicle ${claims.result === 'refused' ? 'refused' : 'failed'}: ${claims.code ?? 'unknown'}`,
        set: { ...set, retry },
        unexpiredAt,
      });
    });
    // Null: the job left `delivered` (another answer, a transfer) or expired meanwhile, so this one changed nothing.
    if (!result) return refuse('job_changed');
    changed(result);
    return null;
  }

  let keysVersion: string | null = null;
  /** Sends a vehicle the published key set, signed for it. */
  async function pushKeys(conn: ChannelConnection): Promise<void> {
    const update = await deps.keys.signKeySet(conn.vehicleId, conn.deviceId);
    conn.send(JSON.stringify({ type: 'keys', update } satisfies KeysFrame));
  }
  /** After a rotation (on any process, or the CLI), every channel held here gets the new set. */
  async function pushKeysIfChanged(): Promise<void> {
    const version = await deps.keys.version();
    if (keysVersion === null) keysVersion = version;
    if (version === keysVersion) return;
    keysVersion = version;
    for (const conn of connections.values())
      await pushKeys(conn).catch((err: unknown) => deps.log.warn({ err }, 'could not push the command key set'));
  }

  /** Records a device's signed receipt of a key set: which kids it trusts now. Returns why it was refused, or null. */
  async function keysReceipt(conn: ChannelConnection, receipt: SignedEnvelope): Promise<string | null> {
    const claims = (isSignedAck.Check(receipt) ? parseCanonical(receipt.signed) : null) as KeySetReceiptClaims | null;
    if (!claims || !isReceiptClaims.Check(claims)) return 'malformed';
    if (!verifyDetached(conn.certificateKey, receipt.signed, receipt.sig)) return 'bad_signature';
    if (claims.deviceId !== conn.deviceId || claims.vehicleId !== conn.vehicleId) return 'identity_mismatch';
    const row = {
      device_id: conn.deviceId,
      vehicle_id: conn.vehicleId,
      kids: JSON.stringify(claims.kids),
      issued_at: claims.issuedAt,
      received_at: clock.now().toISOString(),
    };
    await db
      .insertInto('command_key_receipts')
      .values(row)
      .onConflict((oc) =>
        oc.column('device_id').doUpdateSet({
          vehicle_id: row.vehicle_id,
          kids: row.kids,
          issued_at: row.issued_at,
          received_at: row.received_at,
        }),
      )
      .execute();
    return null;
  }

  /** Records a cloned channel as a security event and applies the configured response. */
  async function duplicate(
    existing: ChannelConnection | null,
    newcomer: ChannelConnection,
    otherNode: string | null = null,
  ): Promise<void> {
    const response = deps.duplicateChannel;
    await deps.audit.append(db, {
      type: 'commands.channel.duplicate',
      actor: { type: 'device', id: newcomer.deviceId },
      object: { type: 'vehicle', id: newcomer.vehicleId },
      action: 'commands:receive',
      decision: 'deny',
      reason: 'a second channel with the certificate of an open one',
      context: newcomer.context,
      details: {
        serial: newcomer.certificateSerial,
        response,
        openFrom: existing?.context?.sourceIp ?? null,
        openRequestId: existing?.context?.requestId ?? null,
        // The live channel is held by another node of the deployment (found through the channel registry).
        otherNode,
      },
    });
    newcomer.close(4409, 'a channel with this certificate is already open');
    if (response === 'quarantine') {
      // Either end may be the clone: the device stays out until an operator has looked and released it.
      existing?.close(4409, 'the certificate is in use on another connection');
      if (existing) connections.delete(existing.vehicleId);
      await deps.quarantine(
        newcomer.deviceId,
        `two command channels with certificate ${newcomer.certificateSerial}`,
        newcomer.context,
      );
    }
  }

  async function tick(): Promise<void> {
    for (const j of await expireDue(db, deps)) changed(j);
    await pushKeysIfChanged();
    if (connections.size === 0) return;
    await registry.renew(connections.values());
    const ids = [...connections.keys()];
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await db
        .selectFrom('command_jobs')
        .select(['vehicle_id'])
        .distinct()
        .where('state', '=', 'queued')
        .where('vehicle_id', 'in', ids.slice(i, i + 500))
        .execute();
      for (const r of rows) void deliverQueued(r.vehicle_id);
    }
  }

  return {
    events,
    /**
     * Registers an open channel; unanswered delivered jobs (checked again) and queued ones go out at once. A second
     * channel with the certificate of one that still answers a ping is a clone: it is recorded as
     * `commands.channel.duplicate` and refused (or the device quarantined), and false is returned. A channel that
     * no longer answers (a vehicle that reconnects after a silent drop), or one with another certificate (after a
     * rotation), is replaced.
     */
    async attach(conn: ChannelConnection): Promise<boolean> {
      const existing = connections.get(conn.vehicleId);
      if (existing && existing.certificateSerial === conn.certificateSerial && (await existing.probe(PROBE_MS))) {
        await duplicate(existing, conn);
        return false;
      }
      connections.get(conn.vehicleId)?.close(4000, 'replaced by a newer channel');
      connections.set(conn.vehicleId, conn);
      // Held here at once (routing finds it), but nothing is delivered until no other node holds a live channel.
      claiming.add(conn);
      const elsewhere = await registry.claim(conn).finally(() => claiming.delete(conn));
      if (elsewhere) {
        if (connections.get(conn.vehicleId) === conn) connections.delete(conn.vehicleId);
        await duplicate(null, conn, elsewhere.otherNode);
        return false;
      }
      // The key set first, so a vehicle that missed rotations can verify what follows.
      await pushKeys(conn).catch((err: unknown) => deps.log.warn({ err }, 'could not push the command key set'));
      await deliverQueued(conn.vehicleId, conn);
      return true;
    },
    /** Forgets a closed channel. */
    detach(conn: ChannelConnection): void {
      if (connections.get(conn.vehicleId) !== conn) return;
      connections.delete(conn.vehicleId);
      void registry.release(conn);
    },
    /** Whether this process holds the vehicle's channel. */
    connected: (vehicleId: string) => connections.has(vehicleId),
    connectionCount: () => connections.size,
    /**
     * A job was queued: deliver here if the vehicle is connected here, else tell the other processes. `trace`
     * names the job's span, the parent of its dispatch wherever the vehicle's channel is.
     */
    async kick(vehicleId: string, trace?: { jobId: string; traceparent: string }): Promise<void> {
      if (trace) traces.set(trace.jobId, trace.traceparent);
      if (connections.has(vehicleId)) return deliverQueued(vehicleId);
      await deps.cluster.publish(CHANNEL, routingMessage(vehicleId, trace), { exception: 'job-routing' });
    },
    acknowledge,
    keysReceipt,
    /** Pushes a changed key set to the channels held here now (the rotation on this process calls it). */
    pushKeysIfChanged,
    changed,
    async start(): Promise<void> {
      keysVersion = await deps.keys.version();
      // A channel still settling its own claim is not the holder another node asks about.
      await registry.start(async (vehicleId) => {
        const held = connections.get(vehicleId);
        return held && !claiming.has(held) ? held.probe(PROBE_MS) : false;
      });
      await deps.cluster.subscribe(CHANNEL, (message) => {
        const routed = routedVehicle(message);
        if (routed === null) deps.log.warn('ignored a malformed command routing message');
        else if (connections.has(routed.vehicleId)) {
          if (routed.trace) {
            const span = tracer.start('commands.route', routed.trace.traceparent, {}, 'consumer');
            traces.set(routed.trace.jobId, span.traceparent);
            span.end();
          }
          void deliverQueued(routed.vehicleId);
        }
      });
      // Routing messages sent while Redis was away are lost: run a dispatch round as soon as it is back.
      deps.cluster.onReconnect(() => {
        tick().catch((err: unknown) => deps.log.warn({ err }, 'command dispatch after reconnect failed'));
      });
      timer = setInterval(() => {
        tick().catch((err: unknown) => deps.log.warn({ err }, 'command dispatch tick failed'));
      }, deps.intervalSeconds * 1000);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      for (const c of connections.values()) c.close(1001, 'server stopping');
      connections.clear();
      await Promise.allSettled([...chains.values()]);
    },
  };
}

/** The dispatcher. */
export type Dispatcher = ReturnType<typeof createDispatcher>;
