import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../audit/index.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

declare module 'fastify' {
  interface FastifyRequest {
    /** W3C trace id of this request: from `traceparent` when valid, else new. */
    traceId: string;
  }
}

/** Reads the W3C trace id from a `traceparent` header, or mints one. */
export function traceIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  const m = value ? TRACEPARENT.exec(value.trim()) : null;
  if (m && m[1] !== '0'.repeat(32)) return m[1] as string;
  return randomBytes(16).toString('hex');
}

/** The audit context of a request: request id, trace id and peer address. */
export function requestContext(req: FastifyRequest): RequestContext {
  return { requestId: req.id, traceId: req.traceId, sourceIp: req.socket.remoteAddress ?? null };
}
