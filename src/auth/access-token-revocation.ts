import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import type { AuthAuditLog } from './audit-events.js';
import type { TokenDenylist } from './token-denylist.js';

/**
 * RFC 7009 revocation of our JWT access tokens. oidc-provider refuses to revoke a structured token
 * (`unsupported_token_type`), because it stores none; this step runs after it has authenticated the client and
 * turns that refusal into the revocation: a token we signed, issued to the client asking, goes on the denylist
 * until it expires. Anything else (a token of another client, a forged or expired one) answers 200 and changes
 * nothing, as RFC 7009 says, so the endpoint tells a caller nothing about tokens that are not theirs.
 */
export function revokeAccessTokens(
  provider: Provider,
  deps: {
    issuer: string;
    jwks: JSONWebKeySet;
    denylist: Pick<TokenDenylist, 'deny' | 'announce'>;
    db: Kysely<Database>;
    audit: AuthAuditLog;
  },
): void {
  const keys = createLocalJWKSet(deps.jwks);
  provider.use(async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    await next();
    const oidc = ctx.oidc as KoaContextWithOIDC['oidc'] | undefined;
    if (oidc?.route !== 'revocation' || ctx.status !== 400) return;
    if ((ctx.body as { error?: string } | undefined)?.error !== 'unsupported_token_type') return;
    const client = oidc.client?.clientId;
    const token = typeof oidc.params?.token === 'string' ? oidc.params.token : '';
    if (!client) return;
    ctx.status = 200;
    ctx.body = '';
    let claims: { jti?: unknown; client_id?: unknown; exp?: unknown; sub?: unknown };
    try {
      ({ payload: claims } = await jwtVerify(token, keys, {
        issuer: deps.issuer,
        typ: 'at+jwt',
        algorithms: ['ES256'],
      }));
    } catch {
      return; // not ours, or expired: nothing to revoke
    }
    if (claims.client_id !== client || typeof claims.jti !== 'string' || typeof claims.exp !== 'number') return;
    const jti = claims.jti;
    const until = new Date(claims.exp * 1000 + 60_000);
    await deps.db.transaction().execute(async (trx) => {
      await deps.denylist.deny(trx, [{ kind: 'jti', value: jti, until }]);
      await deps.audit.append(trx, {
        type: 'auth.token.revoked',
        actor: { type: 'application', id: client },
        applicationId: client,
        object: { type: 'access_token', id: jti },
        action: 'revoke',
        decision: 'allow',
        reason: 'rfc7009',
        context: { requestId: null, traceId: null, sourceIp: ctx.ip ?? null },
        details: { subject: typeof claims.sub === 'string' ? claims.sub : null },
      });
    });
    await deps.denylist.announce();
  });
}

/**
 * Revokes every access token issued to a client until now (a compromised partner or app): the client entry
 * refuses them on every process at the next request, and the event records who did it and why.
 */
export async function revokeClientTokens(
  deps: { db: Kysely<Database>; denylist: Pick<TokenDenylist, 'deny' | 'announce'>; audit: AuthAuditLog },
  args: { clientId: string; actor: { type: 'operator'; id: string }; reason: string },
): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    await deps.denylist.deny(trx, [{ kind: 'client', value: args.clientId }]);
    await deps.audit.append(trx, {
      type: 'auth.token.revoked',
      actor: args.actor,
      applicationId: args.clientId,
      object: { type: 'client', id: args.clientId },
      action: 'revoke_client_tokens',
      decision: 'allow',
      reason: args.reason,
    });
  });
  await deps.denylist.announce();
}

/**
 * Suspends a client (a compromised partner or workload): it can no longer get tokens (the client lookup refuses
 * it) nor use any it holds (the denylist refuses every token of it), on every process: the lookup reads the
 * database, and the denylist is announced and reloaded.
 */
export async function suspendClient(
  deps: { db: Kysely<Database>; denylist: Pick<TokenDenylist, 'deny' | 'announce'>; audit: AuthAuditLog },
  args: { clientId: string; actor: { type: 'operator'; id: string }; reason: string },
): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    await deps.denylist.deny(trx, [{ kind: 'suspended_client', value: args.clientId }]);
    await deps.audit.append(trx, {
      type: 'auth.client.suspended',
      actor: args.actor,
      applicationId: args.clientId,
      object: { type: 'client', id: args.clientId },
      action: 'suspend_client',
      decision: 'allow',
      reason: args.reason.slice(0, 500),
    });
  });
  await deps.denylist.announce();
}
