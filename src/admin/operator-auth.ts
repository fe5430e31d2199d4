import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import type { App } from '../http/index.js';
import type { RequestHook } from '../http/index.js';
import { auditIdentity, type Refusal, refuseRequest } from '../http/index.js';
import type { AdminAuditLog } from './audit-events.js';
import { certificateFacts, findCertificate, type Pki } from '../pki/index.js';

/** An operator authenticated by an admin-plane certificate. */
export interface Operator {
  name: string;
  serial: string;
  /** Certificate validity end (epoch ms), checked on every request. */
  notAfter: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    operator: Operator | null;
  }
}

type Classified = Operator | Refusal;

async function classify(socket: TLSSocket, pki: Pki): Promise<Classified> {
  const cert = socket.getPeerX509Certificate();
  if (!cert)
    return {
      code: 'ERR_CLIENT_CERT_REQUIRED',
      reason: 'no_client_certificate',
      detail: 'the admin plane requires an operator certificate',
      serial: null,
      thumbprint: null,
    };
  const id = auditIdentity(cert);
  const untrusted = (reason: string): Refusal => ({
    code: 'ERR_CLIENT_CERT_UNTRUSTED',
    reason,
    detail: 'the client certificate is not an operator certificate',
    ...id,
  });
  if (!socket.authorized)
    return untrusted(
      `untrusted_${String(socket.authorizationError)
        .toLowerCase()
        .replace(/[^a-z0-9_]/g, '_')
        .slice(0, 60)}`,
    );
  let facts;
  try {
    const root = pki.ctx.authorities.root.node;
    if (!cert.checkIssued(root) || !cert.verify(root.publicKey)) return untrusted('wrong_issuer');
    facts = certificateFacts(cert);
  } catch {
    return untrusted('unreadable_certificate');
  }
  const row = await findCertificate(pki.ctx.db, facts.serial);
  if (!row || row.profile !== 'operator' || row.thumbprint !== facts.thumbprint)
    return untrusted('unknown_certificate');
  return { name: row.subject, serial: facts.serial, notAfter: facts.notAfter.getTime() };
}

/** The operator of a request on an authenticated admin route. */
export function operatorOf(req: FastifyRequest): Operator {
  if (!req.operator) throw new Error(`admin route ${req.routeOptions.url} reached its handler without an operator`);
  return req.operator;
}

/**
 * The operator step of admin-plane routes (and of admin requests that match no route): an operator
 * certificate, classified once per connection, with expiry and revocation checked on every request.
 * Refusals are audited.
 */
export function operatorAuthentication(app: App, deps: { pki: Pki; audit: AdminAuditLog }): RequestHook {
  const classified = new WeakMap<TLSSocket, Promise<Classified>>();
  const { db, cache, clock } = deps.pki.ctx;
  app.decorateRequest('operator', null);
  return async (req, reply) => {
    const socket = req.raw.socket as TLSSocket;
    let pending = classified.get(socket);
    if (!pending) {
      classified.set(socket, (pending = classify(socket, deps.pki)));
      pending.catch(() => classified.delete(socket));
    }
    const result = await pending;
    let refusal: Refusal | null = 'code' in result ? result : null;
    if (!refusal && 'name' in result) {
      const id = { serial: result.serial, thumbprint: null };
      if (clock.now().getTime() >= result.notAfter)
        refusal = {
          code: 'ERR_CLIENT_CERT_EXPIRED',
          reason: 'certificate_expired',
          detail: 'the operator certificate has expired',
          ...id,
        };
      else if (cache.certificate(result.serial).state === 'revoked')
        refusal = {
          code: 'ERR_CLIENT_CERT_REVOKED',
          reason: 'certificate_revoked',
          detail: 'the operator certificate has been revoked',
          ...id,
        };
    }
    if (refusal) {
      return refuseRequest(
        req,
        reply,
        { audit: deps.audit, db },
        {
          type: 'admin.request.refused',
          actor: { type: 'operator', id: 'name' in result ? result.name : null },
          refusal,
        },
      );
    }
    req.operator = result as Operator;
  };
}
