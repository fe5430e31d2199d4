import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import ipaddr from 'ipaddr.js';

/** Per-socket bounds of one listener (config `connections.*`). */
export interface ConnectionLimits {
  /** TCP accepted to TLS established. */
  handshakeTimeoutMs: number;
  /** TLS established to the first request's headers. */
  headersTimeoutMs: number;
  /** A request's headers to its last body byte. */
  requestTimeoutMs: number;
  /** A kept-alive connection with no request in flight (this also bounds the next request's headers). */
  idleTimeoutMs: number;
  /** Open connections on the listener, in any phase; beyond it a new one is closed at once. */
  maxConnections: number;
  /** Open connections from one source address. */
  maxConnectionsPerAddress: number;
}

/** What a listener's guard offers its owner. */
export interface ConnectionGuard {
  /** Connections open now (TCP accepted, not yet closed), whatever their phase. */
  open(): number;
  /** Destroys every open connection: the end of a shutdown's deadline. */
  destroyAll(): void;
}

/**
 * The source a per-address cap counts: an IPv4 address (also written IPv4-mapped), or an IPv6 address's /64. One
 * subscriber gets a whole /64 (RFC 6177) and can rotate through it at will, so counting single IPv6 addresses
 * would let one host open `maxConnectionsPerAddress` connections from each of them and fill the listener.
 */
export function sourceOf(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const prefix = (parsed as ipaddr.IPv6).parts.slice(0, 4).map((p) => p.toString(16));
  return `${prefix.join(':')}::/64`;
}

/** One connection's current deadline: whichever phase it is in, exactly one timer runs; missing it destroys all. */
function deadline(sockets: Socket[]) {
  let timer: NodeJS.Timeout | null = null;
  return {
    arm(ms: number) {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, ms);
      timer.unref();
    },
    clear() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}

/**
 * Bounds every connection of an HTTPS listener with timers of its own, per socket: Node's headers and request
 * timeouts are checked by a periodic sweep that never closed a peer that stopped mid-handshake or mid-headers (issue
 * 18), so nothing here relies on them. Each raw TCP socket gets one deadline for its current phase (handshake, first
 * headers, body, idle); missing it destroys the socket, which also frees its file descriptor. A WebSocket upgrade
 * leaves the socket to the channel's own heartbeat.
 */
export function guardConnections(server: HttpsServer, limits: ConnectionLimits): ConnectionGuard {
  const sockets = new Set<Socket>();
  const perAddress = new Map<string, number>();
  // A connection by its peer's address and port: how the TLS socket and later requests find their deadline.
  type Entry = { sockets: Socket[]; timer: ReturnType<typeof deadline>; inFlight: number };
  const byPeer = new Map<string, Entry>();
  const peerOf = (s: Socket) => `${s.remoteAddress ?? '?'}|${s.remotePort ?? 0}`;

  // Before the TLS layer's own listener, so a refused connection is closed before any handshake work.
  server.prependListener('connection', (raw: Socket) => {
    const address = sourceOf(raw.remoteAddress ?? '?');
    const fromAddress = (perAddress.get(address) ?? 0) + 1;
    if (sockets.size >= limits.maxConnections || fromAddress > limits.maxConnectionsPerAddress) {
      raw.destroy();
      return;
    }
    perAddress.set(address, fromAddress);
    sockets.add(raw);
    const key = peerOf(raw);
    const entry: Entry = { sockets: [raw], timer: deadline([]), inFlight: 0 };
    entry.timer = deadline(entry.sockets);
    byPeer.set(key, entry);
    entry.timer.arm(limits.handshakeTimeoutMs);
    raw.once('close', () => {
      sockets.delete(raw);
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
      // The TLS socket can outlive the raw one's 'close' (a half-closed response): its deadline stays.
      if (entry.sockets.every((s) => s.destroyed)) forget(key, entry);
    });
  });
  const forget = (key: string, entry: Entry) => {
    entry.timer.clear();
    if (byPeer.get(key) === entry) byPeer.delete(key);
  };
  server.on('secureConnection', (socket: TLSSocket) => {
    const key = peerOf(socket);
    const entry = byPeer.get(key);
    if (!entry) return;
    entry.sockets.push(socket);
    entry.timer.arm(limits.headersTimeoutMs);
    socket.once('close', () => forget(key, entry));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const entry = byPeer.get(peerOf(req.socket));
    if (!entry) return;
    entry.inFlight++;
    // A request without a body is complete once its headers are; one with a body must finish sending it in time.
    const bodyless = !req.headers['transfer-encoding'] && Number(req.headers['content-length'] ?? 0) === 0;
    if (bodyless || req.complete) entry.timer.clear();
    else {
      entry.timer.arm(limits.requestTimeoutMs);
      req.once('end', () => entry.timer.clear());
    }
    // 'finish' when the response is sent on a kept-alive connection, 'close' when the connection went first.
    let done = false;
    const settle = () => {
      if (done) return;
      done = true;
      entry.inFlight--;
      if (entry.inFlight === 0 && entry.sockets.some((s) => !s.destroyed)) entry.timer.arm(limits.idleTimeoutMs);
    };
    res.once('finish', settle).once('close', settle);
  });
  server.on('upgrade', (req: IncomingMessage) => byPeer.get(peerOf(req.socket))?.timer.clear());
  return {
    open: () => sockets.size,
    destroyAll() {
      for (const entry of byPeer.values()) for (const socket of entry.sockets) socket.destroy();
      for (const socket of sockets) socket.destroy();
    },
  };
}
