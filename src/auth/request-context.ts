import type { IncomingMessage } from 'node:http';
import type { RequestContext } from '../audit/index.js';

/**
 * The platform's request context (request id, trace id, peer address) for requests handed to oidc-provider. Its
 * Koa context knows nothing of Fastify's request id or of the trace header we parsed, so the route that hands the
 * raw request over leaves them here, keyed by that request, for the provider's audit events.
 */
const contexts = new WeakMap<IncomingMessage, RequestContext>();

/** Remembers the context of a raw request before oidc-provider takes it. */
export function attachRequestContext(raw: IncomingMessage, context: RequestContext): void {
  contexts.set(raw, context);
}

/** The context remembered for a raw request, or one with only the peer address. */
export function requestContextOf(raw: IncomingMessage, ip: string | null): RequestContext {
  return contexts.get(raw) ?? { requestId: null, traceId: null, sourceIp: ip };
}
