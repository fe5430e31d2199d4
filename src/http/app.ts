import { randomUUID } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import type { Logger } from '../platform/index.js';
import { type CatalogedRoute, guardRoutes } from './catalog.js';
import type { App } from './listener-type.js';
import type { RequestHook } from './route-definition.js';

export type { App } from './listener-type.js';
import { type RequestObserver, traceIdFrom } from './context.js';
import { problemType } from '../platform/index.js';
import { installProblemHandlers, sendProblem } from './problem.js';
import { type ConnectionGuard, type ConnectionLimits, guardConnections } from './connection-guard.js';
import { sharedSchemaController } from './shared-compilers.js';

/** TLS settings of one listener. */
export interface ListenerTls extends Pick<SecureContextOptions, 'key' | 'cert' | 'ca' | 'minVersion'> {
  /** Ask for a client certificate. Verification results are judged by the app, which audits refusals. */
  requestCert: boolean;
}

/** A Fastify app for one listener plus the catalog of its routes. */
export interface ListenerApp {
  app: App;
  routes: CatalogedRoute[];
  /** The per-socket deadlines and connection caps of the listener. */
  guard: ConnectionGuard;
}

/** The bounds a listener gets when its caller names none (the defaults of `connections.*`). */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 30_000,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 1000,
};

/**
 * Creates the Fastify app of one listener with the platform's common rules: HTTPS with TLS 1.2+, closed
 * schemas (Ajv never strips unknown fields; it rejects them), problem+json errors, trace context, and a guard
 * that refuses any route not added through the route definition (see route-definition.ts).
 */
export function createListenerApp(options: {
  tls: ListenerTls;
  logger: Logger;
  bodyLimit?: number;
  observer?: RequestObserver;
  limits?: ConnectionLimits;
}): ListenerApp {
  const limits = options.limits ?? DEFAULT_CONNECTION_LIMITS;
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    https: {
      key: options.tls.key,
      cert: options.tls.cert,
      ca: options.tls.ca,
      minVersion: options.tls.minVersion,
      requestCert: options.tls.requestCert,
      // The app, not the handshake, refuses bad client certificates, so each refusal is audited with the
      // certificate's serial and the precise reason. No route code runs for a refused peer.
      rejectUnauthorized: false,
      // A peer that opens TCP and never finishes the handshake is dropped (the guard's own timer backs this up).
      handshakeTimeout: limits.handshakeTimeoutMs,
    },
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.idleTimeoutMs,
    genReqId: () => randomUUID(),
    // Malformed URLs are refused as problem+json, without echoing the URL back.
    frameworkErrors: (_err, _req, reply) => {
      void sendProblem(reply, 'ERR_BAD_REQUEST', 'the request path is malformed');
    },
    requestIdHeader: false,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    // Long enough that an oversized id reaches authentication (and its audit) rather than a framework 400.
    routerOptions: { maxParamLength: 512 },
    return503OnClosing: true,
    // Requests the HTTP parser rejects never reach Fastify's error handler; answer them as problem+json too.
    clientErrorHandler: (err, socket) => {
      // Only an HTTP parse error (HPE_*) comes from a peer that finished its TLS handshake. Anything else (a
      // handshake timeout, a TLS alert, a reset) is on a socket still mid-handshake: a write there waits forever for
      // the handshake and keeps the socket (and its descriptor) open, so it is destroyed instead.
      if (!socket.writable || !String((err as { code?: unknown }).code).startsWith('HPE_')) return socket.destroy();
      const body = JSON.stringify({
        type: problemType('ERR_BAD_REQUEST'),
        title: 'Bad Request',
        status: 400,
        detail: 'the request could not be parsed',
        code: 'ERR_BAD_REQUEST',
      });
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
    schemaController: sharedSchemaController,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.server.headersTimeout = limits.headersTimeoutMs;
  const guard = guardConnections(app.server, limits);
  // Node answers an unsupported `Expect` header itself with a bare 417; answer it as problem+json instead.
  app.server.on('checkExpectation', (_req, res) => {
    const body = JSON.stringify({
      type: problemType('ERR_BAD_REQUEST'),
      title: 'Expectation Failed',
      status: 417,
      detail: 'unsupported Expect header',
      code: 'ERR_BAD_REQUEST',
    });
    res.writeHead(417, {
      'content-type': 'application/problem+json',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    });
    res.end(body);
  });
  const routes = guardRoutes(app);
  installProblemHandlers(app);
  app.decorateRequest('traceId', '');
  app.decorateRequest('traceparent', '');
  app.decorateRequest('refusal', null);
  const observer = options.observer;
  if (observer) app.addHook('onResponse', async (req, reply) => observer.finish(req, reply));
  app.addHook('onRequest', async (req, reply) => {
    if (observer) observer.start(req);
    else req.traceId = traceIdFrom(req.headers.traceparent);
    reply.header('x-request-id', req.id);
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('strict-transport-security', 'max-age=31536000');
    // Only origin-form targets (`/path?query`) reach a route. An absolute-form (`https://host/path`),
    // authority-form or `*` target would make every URL a step derives from the target (the DPoP `htu`, a
    // redirect) name whatever the client wrote; refused before any authentication step runs.
    if (!req.raw.url?.startsWith('/'))
      return sendProblem(reply, 'ERR_BAD_REQUEST', 'the request target must be a path (origin-form)');
  });
  return { app, routes, guard };
}

/**
 * Authenticates requests that match no route, so an unknown path tells an unauthenticated peer nothing.
 * Routes get their authentication from their own declaration; this hook never runs for them.
 */
export function authenticateUnmatched(app: App, hook: RequestHook): void {
  app.addHook('onRequest', async (req, reply) => (req.is404 ? hook(req, reply) : undefined));
}

/**
 * Refuses (421) a request whose `Host` is not the one of `baseUrl`, except on `exempt` paths (health probes
 * from a load balancer, which address the node itself). Whatever the server derives from the request (the
 * authorization server's endpoint URLs, a client assertion's audience) then names only the deployment.
 */
export function pinHost(app: App, baseUrl: string, exempt: readonly string[] = []): void {
  const expected = new URL(baseUrl).host.toLowerCase();
  app.addHook('onRequest', async (req, reply) => {
    if (exempt.includes(req.raw.url?.split('?')[0] ?? '')) return undefined;
    let host: string | null = null;
    try {
      // Normalised as a URL would (default port, case), so `localhost:443` is `localhost`.
      host = req.headers.host ? new URL(`https://${req.headers.host}`).host.toLowerCase() : null;
    } catch {
      host = null;
    }
    if (host === expected) return undefined;
    return sendProblem(reply, 'ERR_MISDIRECTED_REQUEST', `this server answers for ${expected} only`);
  });
}
