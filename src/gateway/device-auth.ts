import type { TLSSocket } from 'node:tls';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuditLog } from '../audit/index.js';
import type { App } from '../http/app.js';
import { requestContext } from '../http/context.js';
import { sendProblem } from '../http/problem.js';
import type { ErrorCode } from '../platform/errors.js';
import type { Pki } from '../pki/index.js';
import { type CertificateRefusal, classifyConnection, type PresentedCertificate } from './client-certificate.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Which device certificate a gateway route accepts. */
    device?: 'factory' | 'operational';
  }
  interface FastifyRequest {
    /** The authenticated device certificate (gateway routes only). */
    device: PresentedCertificate | null;
  }
}

/** The authenticated device of a request that requires one; throws if a route forgot `config.device`. */
export function deviceOf<K extends PresentedCertificate['kind']>(req: FastifyRequest, kind: K): Extract<PresentedCertificate, { kind: K }> {
  const d = req.device;
  if (!d || d.kind !== kind) throw new Error(`route ${req.routeOptions.url} reached its handler without a ${kind} certificate`);
  return d as Extract<PresentedCertificate, { kind: K }>;
}

/**
 * Authenticates every gateway request by its client certificate before routing to any handler: chain and
 * validity (from the handshake), issuer and profile, our own issuance record, the revocation fast path, the
 * device's lifecycle state, the route's certificate kind, and the device named in the path. Each refusal is
 * audited and closes the connection.
 */
export function installDeviceAuthentication(app: App, deps: { pki: Pki; audit: AuditLog }): void {
  const classified = new WeakMap<TLSSocket, Promise<PresentedCertificate | CertificateRefusal>>();
  const { cache, authorities, db, clock } = deps.pki.ctx;

  app.decorateRequest('device', null);

  async function refuse(req: FastifyRequest, reply: FastifyReply, r: Omit<CertificateRefusal, 'kind'>, actorId: string | null, extra: Record<string, string | null> = {}) {
    await deps.audit.append(db, {
      type: 'gateway.request.refused',
      actor: { type: actorId ? 'device' : 'anonymous', id: actorId },
      object: { type: 'route', id: req.routeOptions.url ?? null },
      action: `${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}`,
      decision: 'deny',
      reason: r.reason,
      context: requestContext(req),
      details: { code: r.code, serial: r.serial, thumbprint: r.thumbprint, ...extra },
    });
    reply.header('connection', 'close');
    return sendProblem(reply, r.code, r.detail, { reason: r.reason });
  }

  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.config.catalog?.callers.includes('anonymous')) return;
    const socket = req.raw.socket as TLSSocket;
    let pending = classified.get(socket);
    if (!pending) {
      pending = classifyConnection(socket, { authorities, db });
      classified.set(socket, pending);
      // A lookup that failed (database unavailable) is retried on the next request, not remembered.
      pending.catch(() => classified.delete(socket));
    }
    const cert = await pending;
    if (cert.kind === 'refused') return refuse(req, reply, cert, null);

    const actorId = cert.kind === 'operational' ? cert.deviceId : cert.tcuSerial;
    const fail = (code: ErrorCode, reason: string, detail: string, extra: Record<string, string | null> = {}) =>
      refuse(req, reply, { code, reason, detail, serial: cert.serial, thumbprint: cert.thumbprint }, actorId, extra);

    const state = cache.certificate(cert.serial);
    if (state.state === 'revoked') return fail('ERR_CLIENT_CERT_REVOKED', 'certificate_revoked', 'the client certificate has been revoked');
    if (state.state === 'superseded') return fail('ERR_CLIENT_CERT_SUPERSEDED', 'certificate_superseded', 'the client certificate was replaced by a newer one');
    if (state.state === 'overlap' && state.until <= clock.now().getTime()) {
      const change = await deps.pki.expireOverlap(cert.serial, requestContext(req));
      // Announcing closes this certificate's connections, this one included: only after the 401 is out.
      if (change) reply.raw.once('finish', () => void deps.pki.announce([change]));
      return fail('ERR_CLIENT_CERT_SUPERSEDED', 'certificate_overlap_ended', 'the rotation overlap of this certificate has ended');
    }

    const required = req.routeOptions.config.device;
    if (required === 'operational' && cert.kind === 'factory') {
      return fail('ERR_CLIENT_CERT_WRONG_PROFILE', 'factory_certificate_outside_enrollment', 'a factory certificate is good for enrollment only');
    }
    if (required === 'factory' && cert.kind === 'operational') {
      return fail('ERR_CLIENT_CERT_WRONG_PROFILE', 'operational_certificate_at_enrollment', 'an enrolled device renews with POST /v1/devices/{deviceId}/certificates');
    }

    if (cert.kind === 'operational') {
      const blocked = cache.blockedDevice(cert.deviceId);
      if (blocked) return fail('ERR_DEVICE_NOT_ACTIVE', `device_${blocked}`, `the device is ${blocked}`);
      const claimed = (req.params as Record<string, string> | undefined)?.deviceId;
      if (claimed !== undefined && claimed !== cert.deviceId) {
        return fail('ERR_DEVICE_MISMATCH', 'device_mismatch', 'the certificate belongs to a different device', { claimedDeviceId: claimed.slice(0, 64) });
      }
      if (cert.firstUse) {
        cert.firstUse = false;
        await deps.pki.markFirstUse(cert.serial, requestContext(req));
      }
    } else if (required === undefined) {
      // Unknown paths are answered 404 only to an authenticated caller; a factory certificate sees nothing else.
      return fail('ERR_CLIENT_CERT_WRONG_PROFILE', 'factory_certificate_outside_enrollment', 'a factory certificate is good for enrollment only');
    }
    req.device = cert;
  });
}
