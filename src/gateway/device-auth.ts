import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { untrusted } from '../audit/index.js';
import type { App } from '../http/index.js';
import type { RequestHook } from '../http/index.js';
import { requestContext } from '../http/index.js';
import { refuseRequest } from '../http/index.js';
import type { ErrorCode } from '../platform/index.js';
import type { GatewayAuditLog } from './audit-events.js';
import type { Pki } from '../pki/index.js';
import { type CertificateRefusal, classifyConnection, type PresentedCertificate } from './client-certificate.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated device certificate (gateway routes only). */
    device: PresentedCertificate | null;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The authenticated device of a request that requires one; throws if a route forgot `config.device`. */
export function deviceOf<K extends PresentedCertificate['kind']>(
  req: FastifyRequest,
  kind: K,
): Extract<PresentedCertificate, { kind: K }> {
  const d = req.device;
  if (!d || d.kind !== kind)
    throw new Error(`route ${req.routeOptions.url} reached its handler without a ${kind} certificate`);
  return d as Extract<PresentedCertificate, { kind: K }>;
}

/**
 * The device-certificate step of gateway routes, and of gateway requests that match no route: chain and
 * purpose (from the handshake), issuer and profile, our own issuance record, validity against the clock,
 * the revocation fast path, the device's lifecycle state, the route's certificate kind, and the device named
 * in the path. The connection-level part is computed once per connection; everything that can change is
 * checked on every request, since a kept-alive connection or a resumed TLS session may outlive it. Each
 * refusal is audited and closes the connection. `unmatched` is for paths no route serves: an enrolled device
 * gets their 404, a factory certificate nothing but its refusal.
 */
export function deviceAuthentication(
  app: App,
  deps: { pki: Pki; audit: GatewayAuditLog },
): (required: 'factory' | 'operational' | 'unmatched') => RequestHook {
  const classified = new WeakMap<TLSSocket, Promise<PresentedCertificate | CertificateRefusal>>();
  const { cache, authorities, db, clock } = deps.pki.ctx;

  app.decorateRequest('device', null);

  return (required) => async (req, reply) => {
    const socket = req.raw.socket as TLSSocket;
    let pending = classified.get(socket);
    if (!pending) {
      pending = classifyConnection(socket, { authorities, db });
      classified.set(socket, pending);
      // A lookup that failed (database unavailable) is retried on the next request, not remembered.
      pending.catch(() => classified.delete(socket));
    }
    const cert = await pending;
    if (cert.kind === 'refused') {
      return refuseRequest(
        req,
        reply,
        { audit: deps.audit, db },
        { type: 'gateway.request.refused', actor: { type: 'anonymous', id: null }, refusal: cert },
      );
    }

    const actorId = cert.kind === 'operational' ? cert.deviceId : untrusted(cert.tcuSerial, 64);
    const fail = (code: ErrorCode, reason: string, detail: string, extra: Record<string, string | null> = {}) =>
      refuseRequest(
        req,
        reply,
        { audit: deps.audit, db },
        {
          type: 'gateway.request.refused',
          actor: { type: 'device', id: actorId },
          refusal: { code, reason, detail, serial: cert.serial, thumbprint: cert.thumbprint },
          details: extra,
        },
      );

    const now = clock.now().getTime();
    if (now >= cert.notAfter)
      return fail('ERR_CLIENT_CERT_EXPIRED', 'certificate_expired', 'the client certificate has expired');
    if (now < cert.notBefore)
      return fail(
        'ERR_CLIENT_CERT_NOT_YET_VALID',
        'certificate_not_yet_valid',
        'the client certificate is not valid yet',
      );

    const state = cache.certificate(cert.serial);
    if (state.state === 'revoked')
      return fail('ERR_CLIENT_CERT_REVOKED', 'certificate_revoked', 'the client certificate has been revoked');
    if (state.state === 'superseded')
      return fail(
        'ERR_CLIENT_CERT_SUPERSEDED',
        'certificate_superseded',
        'the client certificate was replaced by a newer one',
      );
    if (state.state === 'overlap' && state.until <= now) {
      const change = await deps.pki.expireOverlap(cert.serial, requestContext(req));
      // Announcing closes this certificate's connections, this one included: only after the 401 is out.
      if (change) reply.raw.once('finish', () => void deps.pki.announce([change]));
      return fail(
        'ERR_CLIENT_CERT_SUPERSEDED',
        'certificate_overlap_ended',
        'the rotation overlap of this certificate has ended',
      );
    }

    if (cert.kind === 'factory' && required !== 'factory') {
      // Unknown paths are answered 404 only to an enrolled device; a factory certificate sees nothing else.
      return fail(
        'ERR_CLIENT_CERT_WRONG_PROFILE',
        'factory_certificate_outside_enrollment',
        'a factory certificate is good for enrollment only',
      );
    }
    if (cert.kind === 'operational') {
      if (required === 'factory') {
        return fail(
          'ERR_CLIENT_CERT_WRONG_PROFILE',
          'operational_certificate_at_enrollment',
          'an enrolled device renews with POST /v1/devices/{deviceId}/certificates',
        );
      }
      const blocked = cache.blockedDevice(cert.deviceId);
      if (blocked) return fail('ERR_DEVICE_NOT_ACTIVE', `device_${blocked}`, `the device is ${blocked}`);
      const claimed = (req.params as Record<string, string> | undefined)?.deviceId;
      if (claimed !== undefined && claimed !== cert.deviceId) {
        return fail('ERR_DEVICE_MISMATCH', 'device_mismatch', 'the certificate belongs to a different device', {
          claimedDeviceId: UUID.test(claimed) ? claimed : untrusted(claimed, 64),
        });
      }
      if (cert.firstUse) {
        cert.firstUse = false;
        await deps.pki.markFirstUse(cert.serial, requestContext(req));
      }
    }
    req.device = cert;
  };
}
