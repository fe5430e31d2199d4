/**
 * One HTTP exchange with a judged destination, over node:http(s). The connection goes to the address that was
 * judged (a `lookup` that answers only that address, so a second DNS answer can never be used), a fresh agent is
 * used per call (no pooled socket, no TLS session, no client certificate), nothing follows a redirect, and the
 * answer is read up to a cap.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import { CarapaceError } from '../platform/index.js';
import type { Destination } from './destination.js';

/** The answer of a destination. A 3xx is an answer like any other: its Location is never followed. */
export interface OutboundResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The address the connection went to (the judged one). */
  address: string;
  /** True when the body was cut at the cap because the caller asked for `overflow: 'truncate'`. */
  truncated: boolean;
}

/** What one exchange needs, already capped by configuration. */
export interface Exchange {
  destination: Destination;
  method: 'POST' | 'GET';
  headers: Record<string, string>;
  body: Uint8Array | null;
  connectTimeoutMs: number;
  /** Aborted when the call's total time is up. */
  deadline: AbortSignal;
  maxResponseBytes: number;
  overflow: 'fail' | 'truncate';
  /** CA certificates trusted for TLS (Node's roots plus the configured ones), or undefined for Node's roots. */
  ca: string[] | undefined;
}

/** Headers the layer itself controls (framing, routing); a caller setting one is refused. */
const RESERVED_HEADERS = new Set([
  'host',
  'connection',
  'content-length',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'proxy-authorization',
  'proxy-connection',
]);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Checks the caller's headers: valid names and values, none the layer owns. The value is never repeated. */
export function checkHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (
      !HEADER_NAME.test(name) ||
      RESERVED_HEADERS.has(lower) ||
      typeof value !== 'string' ||
      !HEADER_VALUE.test(value)
    )
      throw new CarapaceError('ERR_OUTBOUND_FAILED', `the outbound header "${name.slice(0, 40)}" is refused`, {
        reason: 'invalid_header',
        header: name.slice(0, 40),
      });
    out[lower] = value;
  }
  return out;
}

/** A lookup that answers the judged address whatever it is asked: the connection cannot go anywhere else. */
function pinnedLookup(address: string, family: 4 | 6): LookupFunction {
  return (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as (e: null, a: object[]) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };
}

function failure(err: unknown): CarapaceError {
  if (err instanceof CarapaceError) return err;
  // Only the error's code: Node's messages name addresses and ports, never our headers, but nothing more is needed.
  const code = String((err as { code?: unknown }).code ?? 'error').toLowerCase();
  return new CarapaceError('ERR_OUTBOUND_FAILED', `the outbound request failed (${code})`, { reason: code });
}

const flatHeaders = (raw: http.IncomingHttpHeaders): Record<string, string> =>
  Object.fromEntries(
    Object.entries(raw).flatMap(([k, v]) => (v === undefined ? [] : [[k, Array.isArray(v) ? v.join(', ') : v]])),
  );

function readAnswer(
  x: Exchange,
  res: http.IncomingMessage,
  done: (err: CarapaceError | null, r?: OutboundResponse) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const finish = (truncated: boolean) =>
    done(null, {
      status: res.statusCode ?? 0,
      headers: flatHeaders(res.headers),
      body: Buffer.concat(chunks),
      address: res.socket?.remoteAddress ?? x.destination.addresses[0]!.address,
      truncated,
    });
  const tooLarge = () => {
    res.destroy();
    if (x.overflow === 'truncate') return finish(true);
    done(
      new CarapaceError('ERR_OUTBOUND_TOO_LARGE', 'the destination answered more than the response cap', {
        reason: 'too_large',
        limit: x.maxResponseBytes,
      }),
    );
  };
  const declared = Number(res.headers['content-length'] ?? NaN);
  if (declared > x.maxResponseBytes && x.overflow === 'fail') return tooLarge();
  res.on('data', (chunk: Buffer) => {
    const room = x.maxResponseBytes - size;
    chunks.push(chunk.byteLength > room ? chunk.subarray(0, room) : chunk);
    size += chunk.byteLength;
    if (size > x.maxResponseBytes) tooLarge();
  });
  res.on('end', () => finish(false));
  res.on('error', (err) => done(failure(err)));
}

/** Sends one request to the destination's judged address and reads the answer; throws a CarapaceError. */
export function exchange(x: Exchange): Promise<OutboundResponse> {
  const { url, hostname, port, addresses } = x.destination;
  const pinned = addresses[0]!;
  const tls = url.protocol === 'https:';
  return new Promise<OutboundResponse>((resolve, reject) => {
    let settled = false;
    const done = (err: CarapaceError | null, r?: OutboundResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      x.deadline.removeEventListener('abort', onDeadline);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(r!);
    };
    const timeout = (stage: 'connect' | 'total') =>
      done(
        new CarapaceError(
          'ERR_OUTBOUND_TIMEOUT',
          `the destination did not ${stage === 'connect' ? 'connect' : 'answer'} in time`,
          {
            reason: `${stage}_timeout`,
          },
        ),
      );
    const onDeadline = () => timeout('total');
    const options: https.RequestOptions = {
      protocol: url.protocol,
      hostname,
      port,
      path: `${url.pathname}${url.search}`,
      method: x.method,
      headers: {
        ...x.headers,
        host: url.host,
        connection: 'close',
        ...(x.body ? { 'content-length': String(x.body.byteLength) } : {}),
      },
      setHost: false,
      // A fresh agent: no pooled socket from another call, and no global agent's options (proxies, certificates).
      agent: false,
      lookup: pinnedLookup(pinned.address, pinned.family),
      ...(tls ? { ca: x.ca, rejectUnauthorized: true } : {}),
    };
    const req = (tls ? https : http).request(options, (res) => readAnswer(x, res, done));
    const connectTimer = setTimeout(() => timeout('connect'), x.connectTimeoutMs);
    req.on('socket', (socket: Socket) => {
      socket.once(tls ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    });
    req.on('error', (err) => done(failure(err)));
    if (x.deadline.aborted) return onDeadline();
    x.deadline.addEventListener('abort', onDeadline);
    req.end(x.body ?? undefined);
  });
}
