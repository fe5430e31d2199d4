import { createHash } from 'node:crypto';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeJwt,
  EmbeddedJWK,
  type JSONWebKeySet,
  type JWK,
  jwtVerify,
} from 'jose';
import type { Clock } from '../platform/index.js';

/** Remembers one-time values (DPoP proof ids) for a while, across every process that shares it. */
export interface ReplayStore {
  /** True the first time `key` is claimed within `ttlSeconds`; false for a replay. */
  claim(key: string, ttlSeconds: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Why a token was refused; `error` is the RFC 6750 / RFC 9449 error code for WWW-Authenticate. */
export class TokenRefusal extends Error {
  constructor(
    readonly reason: string,
    readonly jti: string | null,
    readonly error: 'invalid_token' | 'invalid_dpop_proof' | 'insufficient_scope' = 'invalid_token',
  ) {
    super(reason);
    this.name = 'TokenRefusal';
  }
}

/** A verified access token. */
export interface VerifiedToken {
  jti: string;
  sub: string | null;
  clientId: string;
  scopes: Set<string>;
  audience: string;
  acr: string | null;
  amr: string[];
  authTime: number | null;
  binding: 'dpop' | 'mtls';
  credentialEpoch: number | null;
  /** The reference (`gid`) to the grant the token was minted from, for the denylist; null for client credentials. */
  grant: string | null;
  issuedAt: number;
  expiresAt: number;
}

/** What a request presents. */
export interface PresentedToken {
  authorization: string | undefined;
  dpop: string | undefined;
  method: string;
  /** The full request URL (scheme, host, path), for the DPoP `htu` check. */
  url: string;
  /** base64url SHA-256 of the client certificate on this connection, if any. */
  certificateThumbprint: string | null;
}

const SKEW = 30;
const DPOP_WINDOW = 120;

function htu(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/**
 * The one access-token verifier of every listener. It accepts only RFC 9068 JWT access tokens (`typ`
 * at+jwt) from our issuer, for the listener's audience, signed with ES256 by a key of our own key set
 * (never a key named by `jku`, `x5u` or an embedded `jwk`), unexpired, and bound to the presenter: a DPoP
 * proof for the token's `cnf.jkt` (with replay protection), or the client certificate for `cnf.x5t#S256`,
 * and not revoked. ID tokens, refresh tokens and tokens for another audience fail one of those checks.
 */
export function createTokenVerifier(deps: {
  issuer: string;
  jwks: () => JSONWebKeySet;
  clock: Clock;
  replay: ReplayStore;
  /**
   * Why a verified token has been revoked (its id, its grant or its client is on the denylist), or null. In the
   * verifier, so every caller (route steps, a channel renewing its token) refuses a revoked token alike.
   */
  revoked: (token: VerifiedToken) => string | null;
}) {
  let keySet: ReturnType<typeof createLocalJWKSet> | null = null;
  let keySource: JSONWebKeySet | null = null;
  const keys = () => {
    const current = deps.jwks();
    if (current !== keySource) {
      keySource = current;
      keySet = createLocalJWKSet(current);
    }
    return keySet as ReturnType<typeof createLocalJWKSet>;
  };

  return async function verify(presented: PresentedToken, audience: string): Promise<VerifiedToken> {
    const [scheme, token] = (presented.authorization ?? '').split(' ');
    if (!token || !scheme || !/^(bearer|dpop)$/i.test(scheme)) throw new TokenRefusal('missing_token', null);
    let jti: string | null = null;
    try {
      jti = String(decodeJwt(token).jti ?? '') || null;
    } catch {
      throw new TokenRefusal('malformed_token', null);
    }
    const now = Math.floor(deps.clock.now().getTime() / 1000);
    let payload;
    try {
      ({ payload } = await jwtVerify(token, keys(), {
        issuer: deps.issuer,
        audience,
        typ: 'at+jwt',
        algorithms: ['ES256'],
        clockTolerance: SKEW,
        currentDate: new Date(now * 1000),
        requiredClaims: ['exp', 'iat', 'jti', 'client_id', 'aud'],
      }));
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'invalid';
      throw new TokenRefusal(code.replace(/^ERR_J[WO][ST]_/, '').toLowerCase(), jti);
    }
    const cnf = (payload.cnf ?? {}) as { jkt?: string; 'x5t#S256'?: string };
    let binding: VerifiedToken['binding'];
    if (cnf.jkt) {
      if (scheme.toLowerCase() !== 'dpop') throw new TokenRefusal('dpop_token_as_bearer', jti);
      await verifyDpop(presented, token, cnf.jkt, now, jti);
      binding = 'dpop';
    } else if (cnf['x5t#S256']) {
      if (presented.certificateThumbprint !== cnf['x5t#S256']) throw new TokenRefusal('certificate_mismatch', jti);
      binding = 'mtls';
    } else {
      // Every token Carapace issues is bound; an unbound one is stolen-and-replayable by design, so refuse it.
      throw new TokenRefusal('unbound_token', jti);
    }
    const verified: VerifiedToken = {
      jti: String(payload.jti),
      sub: typeof payload.sub === 'string' && payload.sub !== payload.client_id ? payload.sub : null,
      clientId: String(payload.client_id),
      scopes: new Set(
        String(payload.scope ?? '')
          .split(' ')
          .filter(Boolean),
      ),
      audience,
      acr: typeof payload.acr === 'string' ? payload.acr : null,
      amr: Array.isArray(payload.amr) ? payload.amr.map(String) : [],
      authTime: typeof payload.auth_time === 'number' ? payload.auth_time : null,
      binding,
      credentialEpoch: typeof payload.cep === 'number' ? payload.cep : null,
      grant: typeof payload.gid === 'string' ? payload.gid : null,
      issuedAt: Number(payload.iat),
      expiresAt: Number(payload.exp),
    };
    const revoked = deps.revoked(verified);
    if (revoked) throw new TokenRefusal(revoked, jti);
    return verified;
  };

  async function verifyDpop(
    presented: PresentedToken,
    token: string,
    jkt: string,
    now: number,
    jti: string | null,
  ): Promise<void> {
    if (!presented.dpop) throw new TokenRefusal('missing_dpop_proof', jti, 'invalid_dpop_proof');
    let proof;
    try {
      proof = await jwtVerify(presented.dpop, EmbeddedJWK, {
        typ: 'dpop+jwt',
        algorithms: ['ES256', 'EdDSA'],
        currentDate: new Date(now * 1000),
        requiredClaims: ['iat', 'jti', 'htm', 'htu'],
      });
    } catch {
      throw new TokenRefusal('invalid_dpop_proof', jti, 'invalid_dpop_proof');
    }
    const { payload, protectedHeader } = proof;
    const thumbprint = await calculateJwkThumbprint(protectedHeader.jwk as JWK, 'sha256');
    if (thumbprint !== jkt) throw new TokenRefusal('dpop_key_mismatch', jti, 'invalid_dpop_proof');
    let target: string;
    try {
      target = htu(presented.url);
    } catch {
      throw new TokenRefusal('dpop_wrong_request', jti, 'invalid_dpop_proof');
    }
    if (payload.htm !== presented.method || payload.htu !== target)
      throw new TokenRefusal('dpop_wrong_request', jti, 'invalid_dpop_proof');
    if (Math.abs(now - Number(payload.iat)) > DPOP_WINDOW / 2)
      throw new TokenRefusal('dpop_proof_stale', jti, 'invalid_dpop_proof');
    const ath = createHash('sha256').update(token).digest('base64url');
    if (payload.ath !== ath) throw new TokenRefusal('dpop_wrong_token', jti, 'invalid_dpop_proof');
    // Fails closed: if the replay store cannot answer, it throws ERR_CLUSTER_UNAVAILABLE (503) and nothing is accepted.
    const fresh = await deps.replay.claim(`dpop:${thumbprint}:${String(payload.jti)}`, DPOP_WINDOW);
    if (!fresh) throw new TokenRefusal('dpop_proof_replayed', jti, 'invalid_dpop_proof');
  }
}

/** The verifier function. */
export type TokenVerifier = ReturnType<typeof createTokenVerifier>;
