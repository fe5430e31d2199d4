import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';

/** A TCP proxy a fault test controls: it forwards, freezes (stops forwarding, keeps sockets open) and resumes. */
export interface FaultProxy {
  readonly port: number;
  /** Stops forwarding in both directions; connections stay open, so peers see a hung server, not a closed one. */
  freeze(): void;
  /**
   * Stops forwarding replies on the open connections: requests still reach the target, which acts on them, but no
   * answer returns. New connections forward normally.
   */
  holdReplies(): void;
  /** Forwards again, including what was held back while frozen. */
  resume(): void;
  /** Closes every open connection at once (a network cut), then keeps accepting. */
  cut(): void;
  /** Connections currently open through the proxy. */
  open(): number;
  /** The local ports of the proxy's sockets to the target (how the target names these connections). */
  upstreamPorts(): number[];
  close(): Promise<void>;
}

/** Starts a proxy on an ephemeral loopback port in front of `target`. */
export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let frozen = false;
  const server = createServer((client) => {
    const upstream = createConnection(target);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    // After pipe(), which would resume a paused source.
    if (frozen) for (const s of pair) s.pause();
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const cut = () => {
    for (const pair of pairs) for (const s of pair) s.destroy();
    pairs.clear();
  };
  return {
    port,
    freeze() {
      frozen = true;
      for (const pair of pairs) for (const s of pair) s.pause();
    },
    holdReplies() {
      for (const [, upstream] of pairs) upstream.pause();
    },
    resume() {
      frozen = false;
      for (const pair of pairs) for (const s of pair) s.resume();
    },
    cut,
    open: () => pairs.size,
    upstreamPorts: () => [...pairs].map(([, upstream]) => upstream.localPort).filter((p) => p !== undefined),
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
