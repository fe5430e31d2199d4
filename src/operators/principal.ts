import type { FastifyRequest } from 'fastify';
import type { OperatorRole } from './tables.js';

/** An authenticated admin-plane operator: a signed-in person (console session) or an automation certificate. */
export interface Operator {
  /** The operator's id in the operator list. */
  id: string;
  name: string;
  kind: 'person' | 'certificate';
  roles: OperatorRole[];
  /** The certificate's serial (kind certificate), else null. */
  serial: string | null;
  /** Certificate validity end or session expiry (epoch ms). */
  notAfter: number;
  /** The hash of the console session (kind person), else null. */
  sessionHash: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    operator: Operator | null;
  }
}

/** The operator of a request on an authenticated admin route. */
export function operatorOf(req: FastifyRequest): Operator {
  if (!req.operator) throw new Error(`admin route ${req.routeOptions.url} reached its handler without an operator`);
  return req.operator;
}

/** The operator as an audit actor. */
export function operatorActor(req: FastifyRequest): { type: 'operator'; id: string } {
  return { type: 'operator', id: operatorOf(req).name };
}

/** The name of the console session cookie (contract with the console). */
export const SESSION_COOKIE = '__Host-carapace-operator';
/** The cookie that binds a sign-in in progress to the browser that started it. */
export const SIGN_IN_COOKIE = '__Host-carapace-operator-sign-in';

/** The value of one cookie of a request, or null. */
export function cookieOf(req: FastifyRequest, name: string): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}
