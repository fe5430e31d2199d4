import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestContext } from '../audit/index.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

declare module 'fastify' {
  interface FastifyRequest {
    /** W3C trace id of this request: from `traceparent` when valid, else new. */
    traceId: string;
    /** W3C `traceparent` of the span this request runs in (the parent of the work it starts); '' untraced. */
    traceparent: string;
    /** The error code of a refusal decided before any route code ran (counted by the listener's metrics). */
    refusal: string | null;
  }
}

/** Reads the W3C trace id from a `traceparent` header, or mints one. */
export function traceIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  const m = value ? TRACEPARENT.exec(value.trim()) : null;
  if (m && m[1] !== '0'.repeat(32)) return m[1] as string;
  return randomBytes(16).toString('hex');
}

/**
 * Watches the requests of one listener (metrics, the request's span, trace ids in its logs). `start` runs first
 * on every request and may set `traceId`, `traceparent` and `log`; `finish` runs once the answer is sent.
 */
export interface RequestObserver {
  start(req: FastifyRequest): void;
  finish(req: FastifyRequest, reply: FastifyReply): void;
}

/** The audit context of a request: request id, trace id and peer address. */
export function requestContext(req: FastifyRequest): RequestContext {
  return {
    requestId: req.id,
    traceId: req.traceId,
    sourceIp: req.socket.remoteAddress ?? null,
    traceparent: req.traceparent || null,
  };
}
