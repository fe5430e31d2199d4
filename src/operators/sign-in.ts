import { createHash, randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import { findUser } from '../identity/index.js';
import { ACR } from '../tokens/index.js';
import type { CatalogEntry, RouteRegistrar } from '../http/index.js';
import { requestContext, sendProblem } from '../http/index.js';
import type { Clock } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { OperatorAuditLog } from './audit-events.js';
import { cookieOf, SESSION_COOKIE, SIGN_IN_COOKIE } from './principal.js';
import type { OperatorSessions } from './sessions.js';
import { secretHash, type OperatorDirectory } from './store.js';

/** The callback path of the console sign-in on the admin plane (the console client's one redirect URI). */
export const SIGN_IN_CALLBACK = '/admin/v1/operator-sign-in/callback';
const SIGN_IN_TTL_SECONDS = 600;
const b64url = (b: Buffer) => b.toString('base64url');

/** Where a console sign-in goes: the authorization server, the console client, and the callback. */
export interface SignInTarget {
  issuer: string;
  clientId: string;
  redirectUri: string;
}

const entry = (purpose: string, action: string): CatalogEntry => ({
  owner: 'operators',
  purpose,
  callers: ['anonymous'],
  action,
  classification: 'internal',
  scopes: [],
  safetyImpact: 'none',
  status: 'beta',
});
const closed = { additionalProperties: false } as const;
const Redirect = { 200: Type.Null(), 303: Type.Null() };

type Deps = {
  db: Kysely<Database>;
  clock: Clock;
  audit: OperatorAuditLog;
  provider: Pick<Provider, 'AuthorizationCode'>;
  directory: Pick<OperatorDirectory, 'find'>;
  sessions: Pick<OperatorSessions, 'start'>;
  target: SignInTarget;
  sessionTtl: number;
  /** Registers the console client if it is not yet (idempotent). */
  ensureClient: () => Promise<void>;
};

/** Why a callback was refused, for the audit trail, and what the browser is told. */
const REFUSALS = {
  no_sign_in: 'this sign-in was not started from this browser, or it expired: start again',
  bad_code: 'the authorization server did not confirm this sign-in: start again',
  mfa_required: 'operators sign in with a second factor (TOTP): enrol one and sign in again',
  not_an_operator: 'this account is not an operator of the admin plane',
} as const;

async function refuse(
  req: FastifyRequest,
  reply: FastifyReply,
  deps: Deps,
  reason: keyof typeof REFUSALS,
  who: string | null,
) {
  await deps.audit.append(deps.db, {
    type: 'operators.sign_in.refused',
    actor: { type: who ? 'user' : 'anonymous', id: who },
    object: { type: 'route', id: SIGN_IN_CALLBACK },
    action: 'sign_in',
    decision: 'deny',
    reason,
    context: requestContext(req),
  });
  return sendProblem(reply, 'ERR_FORBIDDEN', REFUSALS[reason], { reason });
}

/** The user id the authorization server confirmed with MFA for this PKCE verifier, or why not. */
async function confirmedUser(
  deps: Deps,
  code: string,
  verifier: string,
): Promise<{ userId: string; acr?: string } | null> {
  const found = await deps.provider.AuthorizationCode.find(code).catch(() => undefined);
  // `consumed` is stored with the code but not in the library's types.
  if (!found || found.isExpired || (found as { consumed?: unknown }).consumed || !found.accountId) return null;
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  if (found.clientId !== deps.target.clientId || found.redirectUri !== deps.target.redirectUri) return null;
  if (found.codeChallengeMethod !== 'S256' || found.codeChallenge !== challenge) return null;
  // The code is this callback's alone: no token is ever issued for it, and it cannot be replayed.
  await found.consume();
  return { userId: found.accountId, ...(found.acr ? { acr: found.acr } : {}) };
}

/** The human sign-in of the console: authorization code with PKCE at the embedded server, MFA required. */
export function registerSignInRoutes(routes: RouteRegistrar, deps: Deps): void {
  const at = (s = 0) => new Date(deps.clock.now().getTime() + s * 1000).toISOString();
  let registered: Promise<void> | null = null;
  routes.get(
    '/admin/v1/operator-sign-in',
    {
      auth: { kind: 'anonymous' },
      catalog: entry(
        'Start an operator sign-in: redirects to the authorization server (code, PKCE, MFA).',
        'operators:sign_in',
      ),
      schema: { querystring: Type.Object({}, closed), response: Redirect },
    },
    async (req, reply) => {
      // The state cookie must be set on the origin the authorization server sends the browser back to: a sign-in
      // started at another name of the admin plane (127.0.0.1 for localhost, say) moves there first.
      const home = new URL(deps.target.redirectUri);
      if (req.headers.host !== home.host)
        return reply.code(303).header('location', `${home.origin}/admin/v1/operator-sign-in`).send(null);
      registered ??= deps.ensureClient().catch((err: unknown) => {
        registered = null;
        throw err;
      });
      await registered;
      const state = b64url(randomBytes(32));
      const verifier = b64url(randomBytes(32));
      await deps.db.deleteFrom('operator_sign_ins').where('expires_at', '<', at()).execute();
      await deps.db
        .insertInto('operator_sign_ins')
        .values({ state_hash: secretHash(state), code_verifier: verifier, expires_at: at(SIGN_IN_TTL_SECONDS) })
        .execute();
      const url = new URL(`${deps.target.issuer}/auth`);
      url.search = new URLSearchParams({
        client_id: deps.target.clientId,
        response_type: 'code',
        redirect_uri: deps.target.redirectUri,
        scope: 'openid',
        code_challenge: b64url(createHash('sha256').update(verifier).digest()),
        code_challenge_method: 'S256',
        state,
        acr_values: ACR.mfa,
        prompt: 'login consent',
      }).toString();
      // Lax, not Strict: the browser comes back from the authorization server, which may be another site.
      reply.header(
        'set-cookie',
        `${SIGN_IN_COOKIE}=${state}; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=${SIGN_IN_TTL_SECONDS}`,
      );
      return reply.code(303).header('location', url.href).send(null);
    },
  );

  routes.get(
    SIGN_IN_CALLBACK,
    {
      auth: { kind: 'anonymous' },
      catalog: entry(
        'Finish an operator sign-in: sets the console session cookie and opens the console.',
        'operators:sign_in',
      ),
      schema: {
        querystring: Type.Object(
          {
            code: Type.Optional(Type.String({ maxLength: 200 })),
            state: Type.Optional(Type.String({ maxLength: 200 })),
            iss: Type.Optional(Type.String({ maxLength: 500 })),
            error: Type.Optional(Type.String({ maxLength: 200 })),
            error_description: Type.Optional(Type.String({ maxLength: 500 })),
          },
          closed,
        ),
        response: Redirect,
      },
    },
    async (req, reply) => {
      const { code, state } = req.query;
      reply.header('set-cookie', `${SIGN_IN_COOKIE}=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0`);
      if (!state || !code || cookieOf(req, SIGN_IN_COOKIE) !== state)
        return refuse(req, reply, deps, 'no_sign_in', null);
      const pending = await deps.db
        .deleteFrom('operator_sign_ins')
        .where('state_hash', '=', secretHash(state))
        .returning(['code_verifier', 'expires_at'])
        .executeTakeFirst();
      if (!pending || pending.expires_at <= at()) return refuse(req, reply, deps, 'no_sign_in', null);
      const user = await confirmedUser(deps, code, pending.code_verifier);
      if (!user) return refuse(req, reply, deps, 'bad_code', null);
      if (user.acr !== ACR.mfa) return refuse(req, reply, deps, 'mfa_required', user.userId);
      const operator = await deps.directory.find('user_id', user.userId);
      const account = await findUser(deps.db, user.userId);
      if (!operator || operator.disabled || account?.status !== 'active')
        return refuse(req, reply, deps, 'not_an_operator', user.userId);
      const session = await deps.sessions.start(operator.id, account.credentialEpoch);
      await deps.audit.append(deps.db, {
        type: 'operators.sign_in.succeeded',
        actor: { type: 'operator', id: operator.name },
        object: { type: 'operator', id: operator.name },
        action: 'sign_in',
        decision: 'allow',
        context: requestContext(req),
        details: { roles: operator.roles, acr: user.acr },
      });
      reply.header('set-cookie', [
        `${SIGN_IN_COOKIE}=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0`,
        `${SESSION_COOKIE}=${session.id}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=${deps.sessionTtl}`,
      ]);
      return reply.code(303).header('location', '/console/').send(null);
    },
  );
}
