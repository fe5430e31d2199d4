import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import type { AuditLog } from '../audit/index.js';
import type { App } from '../http/app.js';
import { requestContext } from '../http/context.js';
import { sendProblem } from '../http/problem.js';
import type { ErrorCode } from '../platform/errors.js';
import { certificateFacts, type Pki } from '../pki/index.js';

/** An operator authenticated by an admin-plane certificate. */
export interface Operator {
  name: string;
  serial: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    operator: Operator | null;
  }
}

type Classified = Operator | { code: ErrorCode; reason: string; detail: string; serial: string | null };

async function classify(socket: TLSSocket, pki: Pki): Promise<Classified> {
  const cert = socket.getPeerX509Certificate();
  if (!cert) return { code: 'ERR_CLIENT_CERT_REQUIRED', reason: 'no_client_certificate', detail: 'the admin plane requires an operator certificate', serial: null };
  const facts = certificateFacts(cert);
  if (!socket.authorized) return { code: 'ERR_CLIENT_CERT_UNTRUSTED', reason: `untrusted_${String(socket.authorizationError).toLowerCase()}`, detail: 'the client certificate is not trusted here', serial: facts.serial };
  const root = pki.ctx.authorities.root.node;
  if (!cert.checkIssued(root) || !cert.verify(root.publicKey)) {
    return { code: 'ERR_CLIENT_CERT_UNTRUSTED', reason: 'wrong_issuer', detail: 'the client certificate is not an operator certificate', serial: facts.serial };
  }
  const row = await pki.ctx.db.selectFrom('certificates').select(['subject', 'thumbprint', 'profile']).where('serial', '=', facts.serial).executeTakeFirst();
  if (!row || row.profile !== 'operator' || row.thumbprint !== facts.thumbprint) {
    return { code: 'ERR_CLIENT_CERT_UNTRUSTED', reason: 'unknown_certificate', detail: 'the client certificate is not an operator certificate', serial: facts.serial };
  }
  return { name: row.subject, serial: facts.serial };
}

/** The operator of a request on an authenticated admin route. */
export function operatorOf(req: FastifyRequest): Operator {
  if (!req.operator) throw new Error(`admin route ${req.routeOptions.url} reached its handler without an operator`);
  return req.operator;
}

/** Authenticates every admin-plane request (except health) by an operator certificate, auditing refusals. */
export function installOperatorAuthentication(app: App, deps: { pki: Pki; audit: AuditLog }): void {
  const classified = new WeakMap<TLSSocket, Promise<Classified>>();
  app.decorateRequest('operator', null);
  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.config.catalog?.callers.includes('anonymous')) return;
    const socket = req.raw.socket as TLSSocket;
    let pending = classified.get(socket);
    if (!pending) {
      classified.set(socket, (pending = classify(socket, deps.pki)));
      pending.catch(() => classified.delete(socket));
    }
    const result = await pending;
    let refusal = 'code' in result ? result : null;
    if (!refusal && 'name' in result && deps.pki.ctx.cache.certificate(result.serial).state === 'revoked') {
      refusal = { code: 'ERR_CLIENT_CERT_REVOKED', reason: 'certificate_revoked', detail: 'the operator certificate has been revoked', serial: result.serial };
    }
    if (refusal) {
      await deps.audit.append(deps.pki.ctx.db, {
        type: 'admin.request.refused', actor: { type: 'operator', id: null }, object: { type: 'route', id: req.routeOptions.url ?? null },
        action: `${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}`, decision: 'deny', reason: refusal.reason,
        context: requestContext(req), details: { code: refusal.code, serial: refusal.serial },
      });
      reply.header('connection', 'close');
      return sendProblem(reply, refusal.code, refusal.detail, { reason: refusal.reason });
    }
    req.operator = result as Operator;
  });
}
