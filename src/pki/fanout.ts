import type { Cluster } from '../cluster/index.js';
import type { Logger } from '../platform/index.js';
import type { CredentialChange } from './revocation-cache.js';

/**
 * What a fan-out message carries: only the names of what changed. The receiver reloads those certificates and
 * devices from the database (the source of truth), so a forged message (`device-status: active` for a
 * quarantined device, a revocation that never happened) cannot change any node's view: it only costs a read.
 */
export interface ChangedNames {
  serials: string[];
  deviceIds: string[];
}

/** Carries credential changes between processes, as names to reload. */
export interface RevocationFanout {
  publish(change: CredentialChange): Promise<void>;
  subscribe(handler: (names: ChangedNames) => void): Promise<void>;
  close(): Promise<void>;
}

const CHANNEL = 'pki:credential-changes';
/** Bounds on one message, so a forged one cannot make a node read the whole table. */
const MAX_NAMES = 1000;
const NAME = /^[A-Za-z0-9_-]{1,128}$/;

/** The names a change concerns: the certificates and devices whose rows changed. */
export function namesOf(change: CredentialChange): ChangedNames {
  switch (change.kind) {
    case 'certificates-revoked':
      return { serials: change.serials, deviceIds: change.deviceIds };
    case 'certificates-superseded':
      return { serials: change.serials, deviceIds: [] };
    case 'overlap-started':
      return { serials: [change.serial], deviceIds: [] };
    case 'device-status':
      return { serials: [], deviceIds: [change.deviceId] };
  }
}

/** Parses a fan-out message; null unless it is exactly `{ v: 1, serials, deviceIds }` with bounded, plain names. */
export function parseChangedNames(message: string): ChangedNames | null {
  try {
    const m = JSON.parse(message) as unknown;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return null;
    const { v, serials, deviceIds, ...rest } = m as Record<string, unknown>;
    const names = (x: unknown): x is string[] =>
      Array.isArray(x) && x.length <= MAX_NAMES && x.every((s) => typeof s === 'string' && NAME.test(s));
    if (v !== 1 || Object.keys(rest).length > 0 || !names(serials) || !names(deviceIds)) return null;
    return { serials, deviceIds };
  } catch {
    return null;
  }
}

/**
 * Fan-out over the cluster adapter's pub/sub: a change reaches every process in milliseconds in cluster mode.
 * A failed publish is the named failure-policy exception `credential-fanout` (the periodic reload is the backstop).
 */
export function createClusterFanout(cluster: Cluster, log: Logger): RevocationFanout {
  return {
    async publish(change) {
      const { serials, deviceIds } = namesOf(change);
      for (let i = 0; i < Math.max(serials.length, deviceIds.length); i += MAX_NAMES) {
        const part = { v: 1, serials: serials.slice(i, i + MAX_NAMES), deviceIds: deviceIds.slice(i, i + MAX_NAMES) };
        await cluster.publish(CHANNEL, JSON.stringify(part), { exception: 'credential-fanout' });
      }
    },
    async subscribe(handler) {
      await cluster.subscribe(CHANNEL, (message) => {
        const names = parseChangedNames(message);
        if (names) handler(names);
        else log.warn('ignored a malformed credential change message');
      });
    },
    // The adapter belongs to the platform, which closes it.
    async close() {},
  };
}
