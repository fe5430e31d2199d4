import { isIPv4, isIPv6, type Socket } from 'node:net';
import type { Server, TLSSocket } from 'node:tls';
import type { Kysely } from 'kysely';
import type { Logger } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { GatewayAuditLog } from './audit-events.js';

/** Networks audited one by one per interval; the rest are summed into one `other` event. */
const NETWORKS_PER_INTERVAL = 20;
/** Networks counted per interval; beyond this, failures from new networks are counted under `other` only. */
const TRACKED_NETWORKS = 10_000;
/** Reasons named per event (most frequent first). */
const REASONS_PER_EVENT = 5;

/** Counts failed TLS handshakes per listener and source network; audits them as bounded periodic aggregates. */
export interface HandshakeFailures {
  /** Counts the failed handshakes of a listener's server from now on. */
  watch(server: Server, listener: string): void;
  /** Counts one failure (what `watch` does per `tlsClientError`). */
  count(listener: string, address: string | undefined, error: Error & { code?: string }): void;
  /** How many failures were counted since the last flush (what the next flush will report). */
  pending(): number;
  /** Audits what was counted since the last flush, nothing when nothing failed, and starts over. */
  flush(): Promise<void>;
  /** Stops the timer and flushes what is left. */
  close(): Promise<void>;
}

/** The network of an address as the detections render it: an IPv4 /24 or an IPv6 /64; null if no address. */
export function sourceNetwork(raw: string | undefined): string | null {
  if (!raw) return null;
  const address = raw.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
  if (isIPv4(address)) return `${address.split('.').slice(0, 3).join('.')}.0/24`;
  if (!isIPv6(address) || address.includes('.')) return null;
  const [head, tail] = address.toLowerCase().split('%')[0]!.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/** A short, stable reason from an OpenSSL or Node error code: `tlsv1_alert_unknown_ca`, `wrong_version_number`. */
function reasonOf(error: Error & { code?: string }): string {
  const code = typeof error.code === 'string' ? error.code : 'unknown';
  return (
    code
      .replace(/^ERR_SSL_/, '')
      .replace(/^ERR_/, '')
      .toLowerCase()
      .replace(/[^a-z0-9_]/g, '_')
      .slice(0, 60) || 'unknown'
  );
}

/**
 * Failed TLS handshakes are not audited one by one: a peer could flood the trail with them. Each process counts
 * them per listener and source network in memory and writes, per interval in which any failed, one
 * `gateway.tls.handshake_failed` per network (`details.count`, the most frequent `details.reasons`), at most
 * NETWORKS_PER_INTERVAL of them, plus one `other` event summing the rest. Counts of a process that dies before
 * its flush are lost.
 */
export function createHandshakeFailures(deps: {
  db: Kysely<Database>;
  audit: GatewayAuditLog;
  log: Logger;
  intervalSeconds: number;
}): HandshakeFailures {
  type Tally = { listener: string; network: string; count: number; reasons: Map<string, number> };
  let tallies = new Map<string, Tally>();

  const count: HandshakeFailures['count'] = (listener, address, error) => {
    const network = sourceNetwork(address) ?? 'unknown';
    let key = `${listener}|${network}`;
    if (!tallies.has(key) && tallies.size >= TRACKED_NETWORKS) key = `${listener}|other`;
    const t = tallies.get(key) ?? { listener, network: key.split('|')[1]!, count: 0, reasons: new Map() };
    tallies.set(key, t);
    t.count += 1;
    const reason = reasonOf(error);
    if (t.reasons.has(reason) || t.reasons.size < 50) t.reasons.set(reason, (t.reasons.get(reason) ?? 0) + 1);
  };

  async function flush(): Promise<void> {
    const taken = [...tallies.values()].sort((a, b) => b.count - a.count);
    tallies = new Map();
    if (taken.length === 0) return;
    const named = taken.slice(0, NETWORKS_PER_INTERVAL);
    const rest = new Map<string, Tally>();
    for (const t of taken.slice(NETWORKS_PER_INTERVAL)) {
      const r = rest.get(t.listener) ?? { listener: t.listener, network: 'other', count: 0, reasons: new Map() };
      rest.set(t.listener, r);
      r.count += t.count;
      for (const [k, n] of t.reasons) r.reasons.set(k, (r.reasons.get(k) ?? 0) + n);
    }
    await deps.db.transaction().execute(async (trx) => {
      for (const t of [...named, ...rest.values()]) {
        const base = /^(.+)\/\d+$/.exec(t.network)?.[1] ?? null;
        const reasons = [...t.reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, REASONS_PER_EVENT);
        await deps.audit.append(trx, {
          type: 'gateway.tls.handshake_failed',
          actor: { type: 'anonymous', id: null },
          object: { type: 'listener', id: t.listener },
          action: 'tls:handshake',
          decision: 'deny',
          reason: reasons[0]?.[0] ?? 'unknown',
          // The network's base address, so `net(context.sourceIp)` names the same network as for other events.
          context: { requestId: null, traceId: null, sourceIp: base },
          details: {
            listener: t.listener,
            network: t.network,
            count: t.count,
            reasons: reasons.map(([r, n]) => `${r}:${n}`),
            intervalSeconds: deps.intervalSeconds,
          },
        });
      }
    });
  }

  const flushLogged = () =>
    flush().catch((err: unknown) => deps.log.error({ err }, 'could not audit failed TLS handshakes'));
  const timer = deps.intervalSeconds > 0 ? setInterval(() => void flushLogged(), deps.intervalSeconds * 1000) : null;
  timer?.unref();

  return {
    watch(server, listener) {
      // A peer that resets the connection leaves a TLS socket without an address; the TCP socket under it (Node's
      // `_parent`, set for every server-side TLS socket) still has it, read when the connection arrived.
      const addresses = new WeakMap<object, string | undefined>();
      server.on('connection', (raw: Socket) => addresses.set(raw, raw.remoteAddress));
      server.on('tlsClientError', (error: Error & { code?: string }, socket: TLSSocket) => {
        const parent = (socket as TLSSocket & { _parent?: object })._parent;
        count(listener, socket.remoteAddress ?? (parent ? addresses.get(parent) : undefined), error);
      });
    },
    count,
    pending: () => [...tallies.values()].reduce((n, t) => n + t.count, 0),
    flush,
    async close() {
      if (timer) clearInterval(timer);
      await flushLogged();
    },
  };
}
