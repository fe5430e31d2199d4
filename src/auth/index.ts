import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { JSONWebKeySet } from 'jose';
import type Provider from 'oidc-provider';
import type { Cluster } from '../cluster/index.js';
import type { AuditLog } from '../audit/index.js';
import type { AuthAuditEvent } from './audit-events.js';
import { createFederation } from './federation.js';
import type { Outbound } from '../outbound/index.js';
import type { Config } from '../config/index.js';
import type { IdentityAuditEvent, SecretBox } from '../identity/index.js';
import type { Clock } from '../platform/index.js';
import type { Logger } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { sweepExpiredPayloads } from './adapter.js';
import { createClusterFailureCounter, LoginThrottle } from './login-throttle.js';
import { OAUTH_PREFIX } from './oauth-routes.js';
import { createAuthorizationServer } from './provider.js';
import { ensureSigningKeys, loadSigningKeys } from './signing-keys.js';
import { createClusterReplayStore } from './replay-store.js';
import { createTokenDenylist, type TokenDenylist } from './token-denylist.js';
import { revokeClientTokens, suspendClient } from './access-token-revocation.js';
import { createTokenVerifier, type TokenVerifier } from '../tokens/index.js';

export { registerOAuthRoutes, OAUTH_PREFIX } from './oauth-routes.js';
export { registerInteractions } from './interactions.js';
export { tokenAuthentication } from './token-auth.js';
export { TOKEN_EXCHANGE } from './token-exchange.js';
// The tokens this authorization server issues, as resource servers see them (the tokens module's surface).
export { ACR, API_AUDIENCE, DEVICE_SCOPES, RESOURCES, TokenRefusal, tokenOf, USER_SCOPES } from '../tokens/index.js';
export type { TokenVerifier, VerifiedToken } from '../tokens/index.js';
export { DEVICE_CLIENT_PREFIX } from './clients.js';
export { rotateSigningKeys } from './signing-keys.js';
export { sweepExpiredPayloads, revokeAccountTokens } from './adapter.js';
export { authMigrations } from './migrations.js';
export {
  createClusterFailureCounter,
  createMemoryFailureCounter,
  type FailureCounter,
  type LoginThrottle,
  type ThrottledAttempt,
} from './login-throttle.js';
export type { AuthTables } from './tables.js';
export { grantReference, type DenyEntry, type TokenDenylist } from './token-denylist.js';
export { AUTH_AUDIT_EVENTS, type AuthAuditEvent, type AuthAuditLog } from './audit-events.js';

/** The authorization server, the token verifier and the sign-in throttle of one process. */
export interface Auth {
  issuer: string;
  provider: Provider;
  verify: TokenVerifier;
  throttle: LoginThrottle;
  /** Revoked access tokens, grants and clients, checked on every request of every listener. */
  denylist: TokenDenylist;
  /** Refuses every access token issued to a client until now, on every process. */
  revokeClientTokens(args: {
    clientId: string;
    actor: { type: 'operator'; id: string };
    reason: string;
  }): Promise<void>;
  /** Suspends a client: no new tokens, and every token it holds refused, on every process. */
  suspendClient(args: { clientId: string; actor: { type: 'operator'; id: string }; reason: string }): Promise<void>;
  close(): Promise<void>;
}

/** Builds the authorization server and the verifier over the platform's storage and key set. */
export async function createAuth(deps: {
  config: Config;
  db: Kysely<Database>;
  /** Its own events, and the identity events of accounts linked at a federated sign-in. */
  audit: AuditLog<AuthAuditEvent | IdentityAuditEvent>;
  clock: Clock;
  log: Logger;
  secrets: SecretBox;
  /** The process's cluster adapter: DPoP replay windows and sign-in failure counters are shared through it. */
  cluster: Cluster;
  /** The outbound layer: an external identity provider's discovery document and keys are fetched through it. */
  outbound: Pick<Outbound, 'send'>;
}): Promise<Auth> {
  const { config } = deps;
  const dir = join(config.dataDir, 'pki', 'token-signing');
  await ensureSigningKeys({ db: deps.db, dir, clock: deps.clock });
  // Retired keys stay published for the longest lifetime a token they signed can have.
  const keys = await loadSigningKeys({
    db: deps.db,
    dir,
    clock: deps.clock,
    retainSeconds: Math.max(config.auth.userAccessTokenTtl, 3600),
  });
  const issuer = `${config.publicBaseUrl.replace(/\/$/, '')}${OAUTH_PREFIX}`;
  const longestToken = Math.max(
    config.auth.userAccessTokenTtl,
    config.auth.partnerAccessTokenTtl,
    config.auth.deviceTelemetryTokenTtl,
    config.auth.deviceCommandTokenTtl,
  );
  // Same reload period and fan-out as certificate revocation; an entry outlives every token it could deny.
  const denylist = createTokenDenylist({
    db: deps.db,
    cluster: deps.cluster,
    clock: deps.clock,
    log: deps.log,
    retainSeconds: longestToken + 120,
    pollSeconds: config.pki.revocationPollInterval,
  });
  await denylist.start();
  const provider = createAuthorizationServer({
    federation: createFederation(config.federation, { clock: deps.clock, outbound: deps.outbound }),
    exchangeAudit: deps.audit,
    denylist,
    issuer,
    db: deps.db,
    audit: deps.audit,
    clock: deps.clock,
    log: deps.log,
    secrets: deps.secrets,
    keys,
    cookieKeysFile: join(config.dataDir, 'pki', 'cookie-keys.json'),
    ttl: {
      userAccess: config.auth.userAccessTokenTtl,
      partnerAccess: config.auth.partnerAccessTokenTtl,
      deviceTelemetry: config.auth.deviceTelemetryTokenTtl,
      deviceCommands: config.auth.deviceCommandTokenTtl,
    },
  });
  const publicJwks: JSONWebKeySet = { keys: keys.publicJwks };
  // DPoP proofs are one-time across the whole deployment: Redis in cluster mode, memory when embedded.
  const replay = createClusterReplayStore(deps.cluster);
  const throttle = new LoginThrottle(
    deps.clock,
    {
      perAccount: config.auth.loginFailuresPerAccount,
      perSource: config.auth.loginFailuresPerSource,
      windowSeconds: config.auth.loginFailureWindow,
    },
    createClusterFailureCounter(deps.cluster, 'signin'),
  );
  // Expired interactions, sessions and codes are ignored on read; this reclaims their rows and the throttle's keys.
  const sweeper = setInterval(() => {
    throttle.sweep().catch(() => undefined);
    denylist.sweep().catch((err: unknown) => deps.log.warn({ err }, 'sweeping the token denylist failed'));
    sweepExpiredPayloads(deps.db, deps.clock.now()).catch((err: unknown) =>
      deps.log.warn({ err }, 'sweeping expired authorization server rows failed'),
    );
  }, 10 * 60_000);
  sweeper.unref();
  return {
    issuer,
    provider,
    verify: createTokenVerifier({
      issuer,
      jwks: () => publicJwks,
      clock: deps.clock,
      replay,
      revoked: (token) => denylist.refuses(token),
    }),
    throttle,
    denylist,
    revokeClientTokens: (args) => revokeClientTokens({ db: deps.db, denylist, audit: deps.audit }, args),
    suspendClient: (args) => suspendClient({ db: deps.db, denylist, audit: deps.audit }, args),
    close: async () => {
      clearInterval(sweeper);
      denylist.close();
      await replay.close();
      await throttle.close();
    },
  };
}
export { createClusterReplayStore } from './replay-store.js';
