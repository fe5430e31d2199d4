import { randomBytes, randomUUID } from 'node:crypto';
import type { Cluster } from '../cluster/index.js';
import type { Logger } from '../platform/index.js';

/** What the registry needs of a channel: whose it is and which certificate opened it. */
export interface RegisteredChannel {
  vehicleId: string;
  certificateSerial: string;
}

const PROBE_CHANNEL = 'commands:channel-probe';
const VEHICLE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const NONCE = /^[A-Za-z0-9_-]{16,64}$/;

/**
 * Which node holds each vehicle's command channel, across the deployment: a clone that opens its channel on another
 * node than the real unit is found as one on the same node is. A node claims a vehicle's key (`reserve`, renewed
 * every dispatch tick, released on close). A newcomer with the same certificate on another node asks the holder,
 * over pub/sub, to ping its channel; the holder records the answer, and only a live answer makes the newcomer a
 * clone. A probe message changes nothing by itself: it only makes a node ping a channel it holds.
 *
 * Failure policy: the named exception `channel-registry` (src/cluster/adapter.ts). When Redis cannot answer, the
 * channel opens with per-process clone detection only, and the failure is logged.
 */
export function createChannelRegistry(deps: {
  cluster: Pick<Cluster, 'reserve' | 'renew' | 'release' | 'publish' | 'subscribe' | 'recordEvent' | 'countRecent'>;
  log: Logger;
  /** How long a claim lives without renewal (a few dispatch ticks). */
  ttlSeconds: number;
  /** How long the holder has to answer its channel's ping. */
  probeMs: number;
  now: () => number;
}) {
  const node = randomUUID();
  const key = (vehicleId: string) => `commands:channel:${vehicleId}`;
  const valueOf = (c: RegisteredChannel) => `${node} ${c.certificateSerial}`;

  /** Asks the holder node to ping its channel; true when it answered that the channel is alive. */
  async function holderAlive(vehicleId: string, holder: string): Promise<boolean> {
    const nonce = randomBytes(16).toString('base64url');
    // Addressed to the holder: every node hears it, only the holder pings (never this node's own newcomer).
    await deps.cluster.publish(PROBE_CHANNEL, JSON.stringify({ v: 1, vehicleId, nonce, node: holder }));
    const end = Date.now() + deps.probeMs + 1000;
    while (Date.now() < end) {
      if ((await deps.cluster.countRecent(`commands:channel-alive:${nonce}`, 30, deps.now())) > 0) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  }

  /** Takes the vehicle's claim from a holder that no longer answers. */
  async function takeOver(c: RegisteredChannel, holder: string | null): Promise<void> {
    if (holder !== null) await deps.cluster.release(key(c.vehicleId), holder);
    await deps.cluster.reserve(key(c.vehicleId), valueOf(c), deps.ttlSeconds);
  }

  return {
    /**
     * Claims the vehicle's channel for this node. Answers the other node when a live channel with the same
     * certificate is open there (a clone), else null: the channel is this node's.
     */
    async claim(c: RegisteredChannel): Promise<{ otherNode: string } | null> {
      try {
        const r = await deps.cluster.reserve(key(c.vehicleId), valueOf(c), deps.ttlSeconds);
        if (r.reserved) return null;
        const [holderNode, holderSerial] = (r.holder ?? '').split(' ');
        // This node's own stale claim, or another certificate (a rotation, a replaced unit): no clone.
        const sameCertElsewhere = holderNode !== node && holderSerial === c.certificateSerial;
        if (sameCertElsewhere && (await holderAlive(c.vehicleId, holderNode ?? ''))) return { otherNode: holderNode! };
        await takeOver(c, r.holder);
        return null;
      } catch (err) {
        deps.log.warn({ err, exception: 'channel-registry' }, 'channel registry unavailable: per-process clone check');
        return null;
      }
    },
    /** Keeps this node's claims alive (every dispatch tick). */
    async renew(channels: Iterable<RegisteredChannel>): Promise<void> {
      for (const c of channels) {
        const held = await deps.cluster.renew(key(c.vehicleId), valueOf(c), deps.ttlSeconds).catch(() => true);
        if (!held) await deps.cluster.reserve(key(c.vehicleId), valueOf(c), deps.ttlSeconds).catch(() => undefined);
      }
    },
    /** Gives a closed channel's claim up. */
    release(c: RegisteredChannel): Promise<void> {
      return deps.cluster.release(key(c.vehicleId), valueOf(c)).catch(() => undefined);
    },
    /** Answers other nodes' probes for channels held here: `ping` says whether this node's channel is alive. */
    async start(ping: (vehicleId: string) => Promise<boolean>): Promise<void> {
      await deps.cluster.subscribe(PROBE_CHANNEL, (message) => {
        const probe = probeOf(message);
        if (!probe || probe.node !== node) return;
        void ping(probe.vehicleId)
          .then((alive) =>
            alive ? deps.cluster.recordEvent(`commands:channel-alive:${probe.nonce}`, 30, deps.now()) : undefined,
          )
          .catch((err: unknown) => deps.log.warn({ err }, 'could not answer a channel probe'));
      });
    },
  };
}

/** A probe message, or null: messages are untrusted hints (anyone who can PUBLISH can send one). */
function probeOf(message: string): { vehicleId: string; nonce: string; node: string } | null {
  try {
    const m = JSON.parse(message) as { v?: unknown; vehicleId?: unknown; nonce?: unknown; node?: unknown };
    if (m.v !== 1 || typeof m.vehicleId !== 'string' || typeof m.nonce !== 'string' || typeof m.node !== 'string')
      return null;
    if (!VEHICLE_ID.test(m.vehicleId) || !NONCE.test(m.nonce)) return null;
    return { vehicleId: m.vehicleId, nonce: m.nonce, node: m.node };
  } catch {
    return null;
  }
}

/** The channel registry as the dispatcher holds it. */
export type ChannelRegistry = ReturnType<typeof createChannelRegistry>;
