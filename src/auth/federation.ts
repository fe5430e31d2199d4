import {
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  type FetchImplementation,
  type JWTPayload,
  jwtVerify,
} from 'jose';
import type { Config, FederatedIssuerSettings } from '../config/index.js';
import type { Outbound } from '../outbound/index.js';
import { CarapaceError, type Clock } from '../platform/index.js';

/** Why an external token was refused: a stable reason for the audit trail and the tests. */
export type FederationRefusal =
  | 'malformed'
  | 'unknown_issuer'
  | 'alg_not_allowed'
  | 'bad_signature'
  | 'unknown_key'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'missing_subject'
  | 'issuer_unreachable';

/** Raised for an external token Carapace does not accept. */
export class FederationRefused extends Error {
  constructor(
    readonly reason: FederationRefusal,
    readonly issuerId: string | null,
  ) {
    super(`external token refused: ${reason}`);
    this.name = 'FederationRefused';
  }
}

/** An external token that verified: whose it is, and what it says about how the person signed in. */
export interface ExternalIdentity {
  settings: FederatedIssuerSettings;
  subject: string;
  email: string | null;
  emailVerified: boolean;
  /** Whether the issuer says a second factor was used, and this deployment trusts it to say so. */
  mfa: boolean;
  authTime: number | null;
  claims: JWTPayload;
}

/** Verifies tokens of the configured external issuers. */
export interface Federation {
  /** The issuer settings whose tokens a client may exchange. */
  clientsAllowed(issuerId: string): readonly string[];
  /** Every Carapace client id that some issuer lets exchange tokens. */
  exchangeClients: ReadonlySet<string>;
  verify(token: string): Promise<ExternalIdentity>;
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;
type KeySetOptions = NonNullable<Parameters<typeof createRemoteJWKSet>[1]>;
/** A JWKS or discovery document larger than this is refused: no issuer needs more. */
const DOCUMENT_BYTES = 512 * 1024;

/** jose's fetch, sent through the outbound layer (purpose `federation`), so key fetches obey its SSRF rules. */
function fetchVia(outbound: Pick<Outbound, 'send'>): FetchImplementation {
  return async (url) => {
    const res = await outbound.send({
      purpose: 'federation',
      url,
      method: 'GET',
      headers: { accept: 'application/json' },
      maxResponseBytes: DOCUMENT_BYTES,
    });
    const empty = res.status === 204 || res.status === 205 || res.status === 304;
    return new Response(empty ? null : new Uint8Array(res.body), { status: res.status });
  };
}

/** The issuer's keys: from `jwksUri`, or from its discovery document, whose `issuer` must be the configured one. */
async function keysOf(s: FederatedIssuerSettings, options: KeySetOptions): Promise<KeySet> {
  if (s.jwksUri) return createRemoteJWKSet(new URL(s.jwksUri), options);
  const fetchJson = options[customFetch]!;
  const url = `${s.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let meta: { issuer?: unknown; jwks_uri?: unknown };
  try {
    const res = await fetchJson(url, {
      headers: new Headers(),
      method: 'GET',
      redirect: 'manual',
      signal: AbortSignal.timeout(5000),
    });
    if (res.status !== 200) throw new FederationRefused('issuer_unreachable', s.id);
    meta = (await res.json()) as typeof meta;
  } catch (err) {
    if (err instanceof FederationRefused) throw err;
    throw new FederationRefused('issuer_unreachable', s.id);
  }
  if (meta.issuer !== s.issuer || typeof meta.jwks_uri !== 'string')
    throw new FederationRefused('issuer_unreachable', s.id);
  return createRemoteJWKSet(new URL(meta.jwks_uri), options);
}

/** The refusal a jose error stands for. */
function refusalOf(err: unknown): FederationRefusal {
  if (err instanceof FederationRefused) return err.reason;
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return 'wrong_audience';
    if (err.claim === 'nbf' || err.claim === 'iat') return 'not_yet_valid';
    if (err.claim === 'iss') return 'unknown_issuer';
    return 'malformed';
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'alg_not_allowed';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'unknown_key';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid) return 'issuer_unreachable';
  // The outbound layer refused or could not reach the key set (and audited a refused destination).
  if (err instanceof CarapaceError && err.code.startsWith('ERR_OUTBOUND_')) return 'issuer_unreachable';
  return 'malformed';
}

/**
 * The external issuers of `federation.issuers`. A token names its issuer (`iss`), which picks the settings; it is
 * then verified against only that issuer's keys, algorithms (asymmetric, from the settings: never `none`, never an
 * HMAC), audience and lifetime, on the injectable clock. Keys are fetched on first use, kept `jwksCacheTtl`, and
 * fetched again when a token names an unknown key (a rotation). The fetches go through the outbound layer.
 */
export function createFederation(
  settings: Config['federation'],
  deps: { clock: Clock; outbound: Pick<Outbound, 'send'> },
): Federation {
  const byIssuer = new Map(settings.issuers.map((s) => [s.issuer, s]));
  const keys = new Map<string, Promise<KeySet>>();
  const options: KeySetOptions = {
    [customFetch]: fetchVia(deps.outbound),
    cacheMaxAge: settings.jwksCacheTtl * 1000,
    cooldownDuration: settings.jwksRefetchCooldown * 1000,
    timeoutDuration: 5000,
  };
  const keySet = (s: FederatedIssuerSettings) => {
    let set = keys.get(s.id);
    if (!set) {
      set = keysOf(s, options);
      keys.set(s.id, set);
      // A discovery that failed is tried again by the next token.
      set.catch(() => keys.delete(s.id));
    }
    return set;
  };
  return {
    exchangeClients: new Set(settings.issuers.flatMap((s) => s.clients)),
    clientsAllowed: (id) => settings.issuers.find((s) => s.id === id)?.clients ?? [],
    async verify(token) {
      let iss: unknown;
      try {
        decodeProtectedHeader(token);
        iss = decodeJwt(token).iss;
      } catch {
        throw new FederationRefused('malformed', null);
      }
      const s = typeof iss === 'string' ? byIssuer.get(iss) : undefined;
      if (!s) throw new FederationRefused('unknown_issuer', null);
      let claims: JWTPayload;
      try {
        ({ payload: claims } = await jwtVerify(token, await keySet(s), {
          issuer: s.issuer,
          audience: s.audience,
          algorithms: s.algorithms,
          currentDate: deps.clock.now(),
          clockTolerance: settings.clockTolerance,
          requiredClaims: ['exp', 'iat'],
        }));
      } catch (err) {
        throw new FederationRefused(refusalOf(err), s.id);
      }
      const subject = claims[s.subjectClaim ?? 'sub'];
      if (typeof subject !== 'string' || subject === '' || subject.length > 255)
        throw new FederationRefused('missing_subject', s.id);
      const amr = Array.isArray(claims.amr) ? claims.amr.filter((m): m is string => typeof m === 'string') : [];
      const mfa =
        (typeof claims.acr === 'string' && (s.mfa?.acr ?? []).includes(claims.acr)) ||
        amr.some((m) => (s.mfa?.amr ?? []).includes(m));
      return {
        settings: s,
        subject,
        email: typeof claims.email === 'string' ? claims.email : null,
        emailVerified: claims.email_verified === true,
        mfa,
        authTime: typeof claims.auth_time === 'number' ? claims.auth_time : null,
        claims,
      };
    },
  };
}
