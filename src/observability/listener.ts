import type { Server as TlsServer } from 'node:tls';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestObserver } from '../http/index.js';
import type { TraceSpan, Tracer } from '../platform/index.js';
import type { HttpMetricsPort } from './metrics.js';

const spans = new WeakMap<FastifyRequest, TraceSpan>();

/**
 * The observer of one listener: a server span per request (the caller's W3C `traceparent` is its parent), the
 * request's trace and span ids on every log line of the request, and, when it is answered, the request's
 * latency by route template (never the raw URL: cardinality stays bounded) and any refusal's code.
 */
export function observeListener(listener: string, deps: { metrics: HttpMetricsPort; tracer: Tracer }): RequestObserver {
  return {
    start(req: FastifyRequest) {
      const header = req.headers.traceparent;
      const span = deps.tracer.start(
        `${req.method} ${listener}`,
        Array.isArray(header) ? header[0] : header,
        { 'carapace.listener': listener, 'http.request.method': req.method },
        'server',
      );
      spans.set(req, span);
      req.traceId = span.traceId;
      req.traceparent = span.traceparent;
      req.log = req.log.child({ trace_id: span.traceId, span_id: span.spanId });
    },
    finish(req: FastifyRequest, reply: FastifyReply) {
      const route = req.routeOptions.url ?? 'unmatched';
      const status = reply.statusCode;
      deps.metrics.request(listener, req.is404 ? 'unmatched' : route, req.method, status, reply.elapsedTime / 1000);
      if (req.refusal) deps.metrics.refused(listener, req.refusal);
      const span = spans.get(req);
      if (!span) return;
      span.set('http.route', req.is404 ? 'unmatched' : route);
      span.set('http.response.status_code', status);
      if (status >= 500) span.fail(`status ${status}`);
      span.end();
    },
  };
}

/** Counts a listener's TLS handshakes: completed ones, and those that failed (`tlsClientError`). */
export function countHandshakes(server: TlsServer, listener: string, metrics: HttpMetricsPort): void {
  server.on('secureConnection', () => metrics.handshake(listener, 'ok'));
  server.on('tlsClientError', () => metrics.handshake(listener, 'failed'));
}
