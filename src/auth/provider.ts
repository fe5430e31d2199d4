import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import type { JSONWebKeySet } from 'jose';
import type { Kysely } from 'kysely';
import Provider, { type Configuration, errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { AuditLog } from '../audit/index.js';
import type { AuthAuditEvent, AuthAuditLog } from './audit-events.js';
import { findUser, type IdentityAuditEvent, type SecretBox } from '../identity/index.js';
import type { Federation } from './federation.js';
import { federatedSignInOf, registerTokenExchange } from './token-exchange.js';
import type { Clock } from '../platform/index.js';
import { writePrivateFile } from '../platform/index.js';
import type { Logger } from '../platform/index.js';
import { IdentityUri } from '../pki/index.js';
import type { Database } from '../storage/index.js';
import { createAdapterFactory } from './adapter.js';
import { createClientLookup, DEVICE_CLIENT_PREFIX } from './clients.js';
import {
  ACR,
  API_AUDIENCE,
  DEVICE_SCOPES,
  OPENID_SCOPES,
  RESOURCES,
  type ResourceIndicator,
  USER_SCOPES,
} from '../tokens/index.js';
import type { SigningKeySet } from './signing-keys.js';
import { grantReference, type TokenDenylist } from './token-denylist.js';
import { revokeAccessTokens } from './access-token-revocation.js';
import { eventTenant } from './event-tenant.js';
import { requestContextOf } from './request-context.js';
import { answerUnavailableAs503 } from './unavailable.js';

/** Authentication context class references: what `acr` says about how the user logged in. */

/** What the authorization server is built from. */
export interface AuthorizationServerDeps {
  issuer: string;
  db: Kysely<Database>;
  audit: AuthAuditLog;
  clock: Clock;
  log: Logger;
  secrets: SecretBox;
  keys: SigningKeySet;
  /** File holding the cookie signing keys (created 0600 on first use). */
  cookieKeysFile: string;
  /** The access-token denylist: revoked grants and RFC 7009 revocations go on it; suspended clients get no token. */
  denylist: Pick<TokenDenylist, 'deny' | 'announce' | 'isSuspended'>;
  /** Lifetime bounds, seconds. */
  ttl: { deviceTelemetry: number; deviceCommands: number; userAccess: number; partnerAccess: number };
  /** External issuers whose tokens apps may exchange (RFC 8693); none configured: the grant is not offered. */
  federation: Federation;
  /** Token exchange links accounts (identity events) besides its own events. */
  exchangeAudit: AuditLog<AuthAuditEvent | IdentityAuditEvent>;
}

function cookieKeys(file: string): string[] {
  if (!existsSync(file)) writePrivateFile(file, JSON.stringify([randomBytes(32).toString('base64url')]));
  return JSON.parse(readFileSync(file, 'utf8')) as string[];
}

function isDevice(clientId: string | undefined): boolean {
  return clientId?.startsWith(DEVICE_CLIENT_PREFIX) ?? false;
}

/**
 * The embedded OAuth 2 / OpenID Connect authorization server (oidc-provider), configured for Carapace:
 * PKCE S256 for every authorization-code client, DPoP-bound tokens for public clients, private_key_jwt
 * client credentials for partners and workloads, certificate-bound (RFC 8705) tokens for devices, RFC 9068
 * JWT access tokens limited to one audience by resource indicators, and refresh tokens that rotate, with
 * reuse revoking the whole grant.
 */
export function createAuthorizationServer(deps: AuthorizationServerDeps): Provider {
  const findClient = createClientLookup(deps.db, deps.denylist, deps.federation.exchangeClients);
  const lifetime = (resource: ResourceIndicator, clientId: string | undefined, grantType: unknown): number => {
    if (resource === 'urn:carapace:telemetry') return deps.ttl.deviceTelemetry;
    if (resource === 'urn:carapace:commands') return deps.ttl.deviceCommands;
    if (isDevice(clientId)) return 60;
    return grantType === 'client_credentials' ? deps.ttl.partnerAccess : deps.ttl.userAccess;
  };

  const configuration: Configuration = {
    adapter: createAdapterFactory({
      db: deps.db,
      clock: deps.clock,
      secrets: deps.secrets,
      findClient,
      grantRevoked: async (grantId) => {
        await deps.denylist.deny(deps.db, [{ kind: 'grant', value: grantReference(grantId) }]);
        await deps.denylist.announce();
      },
    }),
    jwks: { keys: deps.keys.privateJwks },
    async findAccount(_ctx, sub) {
      const user = await findUser(deps.db, sub);
      if (!user || user.status !== 'active') return undefined;
      return { accountId: user.id, claims: async () => ({ sub: user.id, email: user.email, name: user.displayName }) };
    },
    claims: { openid: ['sub'], email: ['email'], profile: ['name'] },
    scopes: [...OPENID_SCOPES, ...USER_SCOPES, ...DEVICE_SCOPES],
    acrValues: [ACR.password, ACR.mfa],
    pkce: { required: () => true },
    clientAuthMethods: ['none', 'private_key_jwt', 'tls_client_auth'],
    enabledJWA: {
      clientAuthSigningAlgValues: ['ES256', 'EdDSA', 'PS256'],
      dPoPSigningAlgValues: ['ES256', 'EdDSA'],
      idTokenSigningAlgValues: ['ES256'],
    },
    responseTypes: ['code'],
    cookies: {
      keys: cookieKeys(deps.cookieKeysFile),
      long: { signed: true, sameSite: 'lax' },
      short: { signed: true, sameSite: 'lax' },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    ttl: {
      AccessToken: deps.ttl.userAccess,
      AuthorizationCode: 60,
      ClientCredentials: (_ctx, token) =>
        lifetime(
          ((token as { aud?: string }).aud ?? API_AUDIENCE) as ResourceIndicator,
          (token as { clientId?: string }).clientId,
          'client_credentials',
        ),
      IdToken: 600,
      Interaction: 600,
      RefreshToken: 30 * 86400,
      Session: 86400,
      Grant: 30 * 86400,
    },
    async extraTokenClaims(ctx, token) {
      if (token.kind !== 'AccessToken' || !('accountId' in token) || !token.accountId) return undefined;
      // gid names the grant (by a hash) so revoking the grant (RFC 7009 on its refresh token, a logout, refresh
      // token reuse) refuses the access tokens minted from it at once, through the denylist.
      // acr, amr and auth_time travel from the login (via the code or refresh token) into every access token,
      // so resource servers can demand recent MFA; cep lets them drop tokens minted before a password change.
      const source = ctx.oidc.entities.AuthorizationCode ?? ctx.oidc.entities.RefreshToken;
      // A token exchange carries what the external sign-in proved, and no more (token-exchange.ts).
      const federated = federatedSignInOf(ctx);
      const user = await findUser(deps.db, token.accountId);
      return {
        acr: federated ? federated.acr : source?.acr,
        amr: federated ? federated.amr : source?.amr,
        auth_time: federated ? federated.authTime : source?.authTime,
        cep: user?.credentialEpoch ?? -1,
        ...(token.grantId ? { gid: grantReference(token.grantId) } : {}),
      };
    },
    features: {
      devInteractions: { enabled: false },
      dPoP: { enabled: true },
      revocation: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx) => (isDevice(ctx.oidc.client?.clientId) ? undefined : API_AUDIENCE),
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource, client) => {
          const server = RESOURCES[resource as ResourceIndicator];
          if (!server || server.devices !== isDevice(client.clientId)) throw new errors.InvalidTarget();
          return {
            scope: server.scopes.join(' '),
            audience: resource,
            accessTokenTTL: lifetime(resource as ResourceIndicator, client.clientId, ctx.oidc.params?.grant_type),
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        getCertificate: (ctx: KoaContextWithOIDC) =>
          (ctx.req.socket as TLSSocket).getPeerX509Certificate?.()?.toString(),
        // The gateway's device authentication has already checked chain, issuance record, revocation and state.
        certificateAuthorized: (ctx: KoaContextWithOIDC) => (ctx.req.socket as TLSSocket).authorized === true,
        certificateSubjectMatches: (ctx: KoaContextWithOIDC, property: string, expected: string) => {
          if (property !== 'tls_client_auth_san_uri') return false;
          const san = (ctx.req.socket as TLSSocket).getPeerX509Certificate?.()?.subjectAltName ?? '';
          const uris = san
            .split(', ')
            .filter((s) => s.startsWith('URI:'))
            .map((s) => s.slice(4));
          return IdentityUri.parse(uris, 'device') !== null && uris.includes(expected);
        },
      },
    },
    async renderError(ctx, out) {
      ctx.type = 'text/html';
      ctx.body = `<!doctype html><meta charset="utf-8"><title>Sign-in error</title><h1>Sign-in error</h1><p>${escapeHtml(String(out.error))}</p><p>${escapeHtml(String(out.error_description ?? ''))}</p>`;
    },
  };

  const provider = new Provider(deps.issuer, configuration);
  if (deps.federation.exchangeClients.size > 0)
    registerTokenExchange(provider, {
      db: deps.db,
      audit: deps.exchangeAudit,
      clock: deps.clock,
      federation: deps.federation,
    });
  revokeAccessTokens(provider, {
    issuer: deps.issuer,
    jwks: { keys: deps.keys.publicJwks as JSONWebKeySet['keys'] },
    denylist: deps.denylist,
    db: deps.db,
    audit: deps.audit,
  });
  provider.on('server_error', (_ctx, err) => deps.log.error({ err }, 'authorization server error'));
  answerUnavailableAs503(provider, deps.log);
  // The typings list these events per overload; one loop over their names needs the plain EventEmitter shape.
  const on = provider.on.bind(provider) as unknown as (
    event: string,
    listener: (ctx: KoaContextWithOIDC, err: Error & { error?: string }) => void,
  ) => void;
  for (const event of [
    'grant.error',
    'authorization.error',
    'revocation.error',
    'userinfo.error',
    'end_session.error',
  ] as const) {
    on(event, (ctx, err) => {
      // A JWT access token handed to the revocation endpoint is revoked by revokeAccessTokens, not refused.
      if (event === 'revocation.error' && err.error === 'unsupported_token_type') return;
      const refusal = async () =>
        deps.audit.append(deps.db, {
          type: 'auth.request.refused',
          actor: { type: 'application', id: ctx.oidc?.client?.clientId ?? null },
          applicationId: ctx.oidc?.client?.clientId ?? null,
          object: { type: 'oauth_endpoint', id: event.split('.')[0] as string },
          action: event,
          decision: 'deny',
          reason: err.error ?? err.name,
          tenantId: await eventTenant(deps.db, { clientId: ctx.oidc?.client?.clientId }),
          context: requestContextOf(ctx.req, ctx.ip ?? null),
        });
      refusal().catch((e: unknown) => deps.log.error({ err: e }, 'could not audit an authorization server refusal'));
    });
  }
  // Not in the transaction that persists the grant: oidc-provider writes through its adapter on its own, and a JWT
  // access token is not stored at all. The event is written as soon as the grant succeeds, with the full context.
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const token = ctx.oidc?.entities?.AccessToken ?? ctx.oidc?.entities?.ClientCredentials;
    const clientId = ctx.oidc?.client?.clientId ?? null;
    const issued = async () =>
      deps.audit.append(deps.db, {
        type: 'auth.token.issued',
        actor: {
          type: ctx.oidc?.entities?.Account ? 'user' : 'application',
          id: ctx.oidc?.entities?.Account?.accountId ?? clientId,
        },
        applicationId: clientId,
        tenantId: await eventTenant(deps.db, { userId: ctx.oidc?.entities?.Account?.accountId, clientId }),
        object: { type: 'access_token', id: token?.jti ?? null },
        action: 'token',
        decision: 'allow',
        context: requestContextOf(ctx.req, ctx.ip ?? null),
        details: {
          grantType: String(ctx.oidc?.params?.grant_type ?? ''),
          scope: token?.scope ?? null,
          bound: token?.jkt ? 'dpop' : token?.['x5t#S256'] ? 'mtls' : 'none',
        },
      });
    issued().catch((e: unknown) => deps.log.error({ err: e }, 'could not audit a token issuance'));
  });
  return provider;
}

/** Escapes text for HTML. */
export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}
