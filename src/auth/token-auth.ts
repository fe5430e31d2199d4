import type { TLSSocket } from 'node:tls';
import type { FastifyReply } from 'fastify';
import type { Kysely } from 'kysely';
import { untrusted } from '../audit/index.js';
import type { App } from '../http/index.js';
import type { RequestHook, TokenRequirement } from '../http/index.js';
import { requestContext } from '../http/index.js';
import { sendProblem } from '../http/index.js';
import type { AuthAuditLog } from './audit-events.js';
import { certificateThumbprint } from '../pki/index.js';
import { findUser } from '../identity/index.js';
import type { Database } from '../storage/index.js';
import { TokenRefusal, type TokenVerifier } from '../tokens/index.js';

function challenge(reply: FastifyReply, refusal: TokenRefusal, scopes: readonly string[]) {
  const scheme = refusal.error === 'invalid_dpop_proof' || refusal.reason.startsWith('dpop') ? 'DPoP' : 'Bearer';
  const scope = scopes.length ? `, scope="${scopes.join(' ')}"` : '';
  reply.header('www-authenticate', `${scheme} error="${refusal.error}"${scope}, algs="ES256 EdDSA"`);
}

/**
 * The token step of routes that declare one: the one verifier's checks (the denylist of revoked tokens, grants
 * and clients among them), the route's scopes, and for user tokens the credential epoch (a password change, an
 * MFA enrolment or reset kills older tokens). Each refusal is a 401 (403 for missing scope) with
 * WWW-Authenticate, audited with the token named only by its jti.
 */
export function tokenAuthentication(
  app: App,
  deps: {
    verify: TokenVerifier;
    audit: AuthAuditLog;
    db: Kysely<Database>;
    baseUrl: () => string;
  },
): (required: TokenRequirement) => RequestHook {
  app.decorateRequest('token', null);
  return (required) => async (req, reply) => {
    const socket = req.raw.socket as TLSSocket;
    const cert = typeof socket.getPeerX509Certificate === 'function' ? socket.getPeerX509Certificate() : undefined;
    try {
      const token = await deps.verify(
        {
          authorization: req.headers.authorization,
          dpop: typeof req.headers.dpop === 'string' ? req.headers.dpop : undefined,
          method: req.method,
          url: `${deps.baseUrl()}${req.url}`,
          certificateThumbprint: cert ? certificateThumbprint(cert.raw) : null,
        },
        required.audience,
      );
      if (token.sub) {
        const user = await findUser(deps.db, token.sub);
        if (!user || user.status !== 'active' || user.credentialEpoch !== token.credentialEpoch)
          throw new TokenRefusal('credentials_changed', token.jti);
      }
      const missing = required.scopes.filter((s) => !token.scopes.has(s));
      // anyScope: routes used by two kinds of caller (an owner or a dealer closing a case) need one of the scopes.
      if (required.anyScope ? missing.length === required.scopes.length && missing.length > 0 : missing.length > 0)
        throw new TokenRefusal(`missing_scope:${missing.join(',')}`, token.jti, 'insufficient_scope');
      req.token = token;
    } catch (err) {
      if (!(err instanceof TokenRefusal)) throw err;
      await deps.audit
        .append(deps.db, {
          // The jti of a refused token is unverified input: bounded and scrubbed before it is recorded.
          type: 'auth.token.refused',
          actor: { type: 'anonymous', id: null },
          object: { type: 'access_token', id: err.jti === null ? null : untrusted(err.jti, 64) },
          action: `${req.method} ${req.routeOptions.url ?? '(unmatched)'}`,
          decision: 'deny',
          reason: err.reason,
          context: requestContext(req),
        })
        .catch((e: unknown) => req.log.error({ err: e }, 'could not audit a token refusal'));
      challenge(reply, err, required.scopes);
      return sendProblem(
        reply,
        err.error === 'insufficient_scope' ? 'ERR_FORBIDDEN' : 'ERR_TOKEN_INVALID',
        err.error === 'insufficient_scope' ? 'the token lacks a required scope' : 'the access token is not valid here',
        { reason: err.reason },
      );
    }
  };
}
