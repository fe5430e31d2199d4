import type { FastifyRequest } from 'fastify';
import type { VerifiedToken } from './verifier.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the token step of a route that declares token authentication; null elsewhere. */
    token: VerifiedToken | null;
  }
}

/** The verified token of a request on a token-authenticated route. */
export function tokenOf(req: FastifyRequest): VerifiedToken {
  if (!req.token) throw new Error(`route ${req.routeOptions.url} reached its handler without a token`);
  return req.token;
}
