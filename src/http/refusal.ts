import { createHash, type X509Certificate as NodeX509 } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type AuditLog, type DetailValue, untrusted } from '../audit/index.js';
import type { ErrorCode } from '../platform/index.js';
import { normalizeSerial } from '../platform/index.js';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { requestContext } from './context.js';
import { sendProblem } from './problem.js';

/** An authentication refusal decided before any route code runs. */
export interface Refusal {
  code: ErrorCode;
  reason: string;
  detail: string;
  serial: string | null;
  thumbprint: string | null;
}

/** Serial and thumbprint for the audit trail, computed so that no certificate shape can make it throw. */
export function auditIdentity(cert: NodeX509 | undefined): { serial: string | null; thumbprint: string | null } {
  if (!cert) return { serial: null, thumbprint: null };
  let serial: string | null = null;
  try {
    serial = normalizeSerial(cert.serialNumber);
  } catch {
    serial = null;
  }
  return { serial, thumbprint: createHash('sha256').update(cert.raw).digest('base64url') };
}

/**
 * Audits a refusal and answers it as problem+json, closing the connection. The route is recorded by its
 * template, never the raw path; attacker-controlled values are bounded and scrubbed. If the audit write
 * fails, the request is still refused: a failure never turns into access.
 */
export async function refuseRequest<T extends string>(
  req: FastifyRequest,
  reply: FastifyReply,
  deps: { audit: AuditLog<T>; db: Kysely<Database> },
  args: {
    type: T;
    actor: { type: 'device' | 'operator' | 'anonymous'; id: string | null };
    refusal: Refusal;
    details?: Record<string, DetailValue>;
  },
): Promise<FastifyReply> {
  const route = req.routeOptions.url;
  try {
    await deps.audit.append(deps.db, {
      type: args.type,
      actor: args.actor,
      object: { type: 'route', id: route ?? null },
      action: `${req.method} ${route ?? '(unmatched)'}`,
      decision: 'deny',
      reason: args.refusal.reason,
      context: requestContext(req),
      details: {
        code: args.refusal.code,
        serial: args.refusal.serial,
        thumbprint: args.refusal.thumbprint,
        ...(route ? {} : { path: untrusted(req.url.split('?')[0] ?? '') }),
        ...args.details,
      },
    });
  } catch (err) {
    req.log.error({ err, reason: args.refusal.reason }, 'could not audit a refusal; refusing anyway');
  }
  req.refusal = args.refusal.code;
  reply.header('connection', 'close');
  return sendProblem(reply, args.refusal.code, args.refusal.detail, { reason: args.refusal.reason });
}
