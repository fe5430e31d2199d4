import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { AuditLog } from '../audit/index.js';
import {
  findActiveUserByEmail,
  findFederatedUser,
  findUser,
  type IdentityAuditEvent,
  linkFederatedIdentity,
} from '../identity/index.js';
import type { Clock } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { ACR } from '../tokens/index.js';
import type { AuthAuditEvent } from './audit-events.js';
import { type ExternalIdentity, type Federation, FederationRefused } from './federation.js';
import {
  applyDpopBinding,
  checkDpopRequired,
  resolveRequestedResources,
  validateClientScope,
  validateDpop,
} from './provider-internals.js';
import { requestContextOf } from './request-context.js';

/** RFC 8693's grant type. */
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** The subject token types taken: an external ID token, or a JWT access token, verified the same way. */
const SUBJECT_TYPES = new Set([
  'urn:ietf:params:oauth:token-type:id_token',
  ACCESS_TOKEN_TYPE,
  'urn:ietf:params:oauth:token-type:jwt',
]);

/** How a federated sign-in went, for the claims of the access token it gets (see provider.ts extraTokenClaims). */
export interface FederatedSignIn {
  acr: string | undefined;
  amr: string[];
  authTime: number;
}
const signIns = new WeakMap<KoaContextWithOIDC, FederatedSignIn>();

/** The federated sign-in of a token request, if it is a token exchange. */
export function federatedSignInOf(ctx: KoaContextWithOIDC): FederatedSignIn | undefined {
  return signIns.get(ctx);
}

interface ExchangeDeps {
  db: Kysely<Database>;
  audit: AuditLog<AuthAuditEvent | IdentityAuditEvent>;
  clock: Clock;
  federation: Federation;
}

/** The Carapace user an external account signs in as: its link, or (where allowed) a verified email's user. */
async function userOf(deps: ExchangeDeps, who: ExternalIdentity, ctx: KoaContextWithOIDC): Promise<string | null> {
  const { issuer } = who.settings;
  const linked = await findFederatedUser(deps.db, issuer, who.subject);
  if (linked) return linked;
  if (!who.settings.linkByVerifiedEmail || !who.email || !who.emailVerified) return null;
  const user = await findActiveUserByEmail(deps.db, who.email);
  if (!user) return null;
  const context = requestContextOf(ctx.req, ctx.ip ?? null);
  const actor = { type: 'system' as const, id: `federation:${who.settings.id}` };
  await linkFederatedIdentity(deps, {
    issuer,
    subject: who.subject,
    userId: user.id,
    via: 'verified_email',
    actor,
    context,
  });
  // Read back: a concurrent first sign-in may have linked the account first.
  return (await findFederatedUser(deps.db, issuer, who.subject)) ?? null;
}

/** Audits a refused exchange and answers `invalid_grant`, naming no detail an attacker could tune against. */
async function refuse(deps: ExchangeDeps, ctx: KoaContextWithOIDC, reason: string, issuerId: string | null) {
  await deps.audit.append(deps.db, {
    type: 'auth.federation.refused',
    actor: { type: 'application', id: ctx.oidc.client?.clientId ?? null },
    applicationId: ctx.oidc.client?.clientId ?? null,
    object: { type: 'federated_issuer', id: issuerId },
    action: 'oauth:token_exchange',
    decision: 'deny',
    reason,
    context: requestContextOf(ctx.req, ctx.ip ?? null),
  });
  return new errors.InvalidGrant(
    reason === 'unmapped_subject' ? 'the external account is not linked to a Carapace user' : 'subject_token refused',
  );
}

/**
 * Registers RFC 8693 token exchange on the embedded authorization server: a Carapace app hands in an ID token or
 * JWT access token of a configured external issuer (`subject_token`) with a DPoP proof, and gets a Carapace access
 * token for the linked user, bound to the proof's key, as the code grant would issue it. No MFA claim unless the
 * external token's `acr`/`amr` is one the issuer's settings trust.
 */
export function registerTokenExchange(provider: Provider, deps: ExchangeDeps): void {
  const params = ['subject_token', 'subject_token_type', 'requested_token_type', 'scope', 'resource'];
  provider.registerGrantType(
    TOKEN_EXCHANGE,
    async (ctx) => {
      const p = ctx.oidc.params as Record<string, string | undefined>;
      if (!p.subject_token || !SUBJECT_TYPES.has(p.subject_token_type ?? ''))
        throw new errors.InvalidRequest('subject_token and a supported subject_token_type are required');
      if (p.requested_token_type && p.requested_token_type !== ACCESS_TOKEN_TYPE)
        throw new errors.InvalidRequest('only access tokens are issued');
      const dPoP = await validateDpop(provider, ctx);
      checkDpopRequired(provider, ctx, dPoP);
      let who: ExternalIdentity;
      try {
        who = await deps.federation.verify(p.subject_token);
      } catch (err) {
        if (err instanceof FederationRefused) throw await refuse(deps, ctx, err.reason, err.issuerId);
        throw err;
      }
      const client = ctx.oidc.client;
      if (!client || !who.settings.clients.includes(client.clientId))
        throw await refuse(deps, ctx, 'client_not_allowed', who.settings.id);
      const userId = await userOf(deps, who, ctx);
      const user = userId ? await findUser(deps.db, userId) : undefined;
      if (!user || user.status !== 'active') throw await refuse(deps, ctx, 'unmapped_subject', who.settings.id);

      const [resourceServer, ...more] = await resolveRequestedResources(provider, ctx);
      if (!resourceServer || more.length > 0) throw new errors.InvalidTarget('exactly one resource is required');
      const allowed = new Set(resourceServer.scope?.split(' ') ?? []);
      const scope = [...validateClientScope(provider, ctx, p.scope ?? '')].filter((s) => allowed.has(s)).join(' ');
      const grant = new provider.Grant({ accountId: user.id, clientId: client.clientId });
      grant.addResourceScope(resourceServer.identifier(), scope);
      const grantId = await grant.save();
      const token = new provider.AccessToken({ accountId: user.id, client, grantId, gty: 'token_exchange', scope });
      token.resourceServer = resourceServer;
      await applyDpopBinding(provider, ctx, dPoP, token);
      // The sign-in is no younger than the external token: without its auth_time, its iat (required). Never the
      // exchange's time, or re-exchanging one stolen token would keep passing step-up's freshness until it expires.
      const now = Math.floor(deps.clock.now().getTime() / 1000);
      const issuedAt = typeof who.claims.iat === 'number' ? who.claims.iat : 0;
      const authTime = Math.min(who.authTime ?? issuedAt, issuedAt, now);
      signIns.set(ctx, { acr: who.mfa ? ACR.mfa : undefined, amr: ['fed', ...(who.mfa ? ['mfa'] : [])], authTime });
      ctx.oidc.entity('AccessToken', token);
      ctx.oidc.entity('Account', { accountId: user.id, claims: async () => ({ sub: user.id }) });
      const value = await token.save();
      await deps.audit.append(deps.db, {
        type: 'auth.federation.accepted',
        actor: { type: 'user', id: user.id },
        applicationId: client.clientId,
        object: { type: 'federated_issuer', id: who.settings.id },
        action: 'oauth:token_exchange',
        decision: 'allow',
        reason: who.mfa ? 'mfa' : 'single_factor',
        context: requestContextOf(ctx.req, ctx.ip ?? null),
        details: { jti: token.jti, subject: who.subject.slice(0, 200) },
      });
      ctx.body = {
        access_token: value,
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: token.tokenType,
        expires_in: token.expiration,
        scope: token.scope,
      };
    },
    params,
  );
}
