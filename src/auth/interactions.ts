import formbody from '@fastify/formbody';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import type { RouteRegistrar } from '../http/index.js';
import type { CatalogEntry } from '../http/index.js';
import { requestContext } from '../http/index.js';
import type { AuthAuditLog } from './audit-events.js';
import { checkTotp, type Directory, verifyPassword } from '../identity/index.js';
import type { Clock } from '../platform/index.js';
import type { LoginThrottle } from './login-throttle.js';
import { consentPage, loginPage } from './pages.js';
import { ACR } from '../tokens/index.js';
import { eventTenant } from './event-tenant.js';
import { createHash } from 'node:crypto';

const entry = (purpose: string, action: string): CatalogEntry => ({
  owner: 'auth',
  purpose,
  callers: ['anonymous'],
  action,
  classification: 'confidential',
  scopes: [],
  safetyImpact: 'low',
  status: 'stable',
});
const auth = { kind: 'anonymous' } as const;
/** A page, or (once an interaction is finished) oidc-provider's redirect back into the authorization flow. */
const Page = {
  200: { content: { 'text/html': { schema: Type.String() } } },
  303: Type.Null({ description: 'back to the authorization endpoint' }),
};
const Uid = Type.Object({ uid: Type.String({ pattern: '^[A-Za-z0-9_-]{10,64}$' }) }, { additionalProperties: false });
const LoginForm = Type.Object(
  {
    email: Type.String({ maxLength: 320 }),
    password: Type.String({ maxLength: 1024 }),
    totp: Type.Optional(Type.String({ maxLength: 12 })),
  },
  { additionalProperties: false },
);

/** One message for every failure, so the answer never tells which part was wrong or whether the account exists. */
const GENERIC_FAILURE =
  'The email, password or one-time code is not right, or sign-in is paused for a while. Try again.';

/**
 * The account a sign-in named, as a short hash of the normalised e-mail address: credential stuffing is many
 * accounts from one network, and most of them do not exist here, so the user id alone cannot count them.
 * Pseudonymous, not anonymous: anyone holding a list of addresses can recompute it, so it is no secret and no
 * address is written either.
 */
export function accountHandle(account: string): string {
  return createHash('sha256').update(`carapace-sign-in:${account}`).digest('hex').slice(0, 16);
}

function html(reply: FastifyReply, body: string, status = 200) {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
    .header('x-frame-options', 'DENY')
    .send(body);
}

type InteractionDeps = {
  provider: Provider;
  directory: Directory;
  audit: AuthAuditLog;
  clock: Clock;
  throttle: LoginThrottle;
};

/**
 * The login, one-time-code and consent pages that oidc-provider hands its interactions to, in a scope of their
 * own: the HTML forms post `application/x-www-form-urlencoded`, which no JSON API route accepts.
 */
export function registerInteractions<Spec>(routes: RouteRegistrar<Spec>, deps: InteractionDeps): void {
  routes.scope(async (scoped, app) => {
    await app.register(formbody);
    interactionRoutes(scoped, deps);
  });
}

function interactionRoutes<Spec>(routes: RouteRegistrar<Spec>, deps: InteractionDeps): void {
  const { provider } = deps;
  const details = (req: FastifyRequest, reply: FastifyReply) => provider.interactionDetails(req.raw, reply.raw);
  const clientName = async (clientId: unknown) =>
    (await provider.Client.find(String(clientId)))?.clientName ?? String(clientId);

  routes.get(
    '/interaction/:uid',
    {
      auth,
      catalog: entry('Show the sign-in or consent step of an authorization request.', 'auth:interaction'),
      schema: { params: Uid, response: Page },
    },
    async (req, reply) => {
      const interaction = await details(req, reply);
      const name = await clientName(interaction.params.client_id);
      if (interaction.prompt.name === 'login')
        return html(reply, loginPage({ uid: interaction.uid, clientName: name }));
      const d = interaction.prompt.details as {
        missingOIDCScope?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      const scopes = [...(d.missingOIDCScope ?? []), ...Object.values(d.missingResourceScopes ?? {}).flat()];
      return html(reply, consentPage({ uid: interaction.uid, clientName: name, scopes }));
    },
  );

  routes.post(
    '/interaction/:uid/login',
    {
      auth,
      catalog: entry('Sign in with password and, where enrolled, a TOTP code.', 'auth:login'),
      schema: { params: Uid, body: LoginForm, response: Page },
    },
    async (req, reply) => {
      const interaction = await details(req, reply);
      const { email, password, totp } = req.body;
      const source = req.socket.remoteAddress ?? 'unknown';
      const account = email.trim().toLowerCase();
      const context = requestContext(req);
      const name = await clientName(interaction.params.client_id);
      // Places are reserved before any password work, atomically, so parallel attempts cannot all pass the limit.
      const attempt = await deps.throttle.begin(account, source);
      if (attempt.sourceBlocked) {
        // A source over its limit is refused before any password work, so it can neither burn CPU nor lock accounts.
        await attempt.failed();
        await deps.audit.append(deps.directory.db, {
          type: 'auth.login.failed',
          actor: { type: 'anonymous', id: null },
          applicationId: String(interaction.params.client_id),
          tenantId: await eventTenant(deps.directory.db, { clientId: String(interaction.params.client_id) }),
          object: { type: 'user', id: null },
          action: 'login',
          decision: 'deny',
          reason: 'source_throttled',
          context,
          details: { account: accountHandle(account) },
        });
        return html(reply, loginPage({ uid: interaction.uid, clientName: name, error: GENERIC_FAILURE, email }), 401);
      }
      const user = await deps.directory.findUserByEmail(account);
      // Always verify, even when the account is unknown or locked: the time taken must not tell them apart.
      const passwordOk = await verifyPassword(user?.password_hash ?? null, password);
      const blocked = attempt.accountBlocked;
      let ok = passwordOk && !blocked && user?.status === 'active';
      let acr: string = ACR.password;
      let amr = ['pwd'];
      if (ok && user?.totp_sealed) {
        const secret = deps.directory.totpSecretOf(user);
        const step = secret && totp ? checkTotp(secret, totp, deps.clock.now()) : null;
        // A code is good once: its time step must be newer than the last one accepted.
        ok = step !== null && (await deps.directory.claimTotpStep(user.id, step));
        if (ok) {
          acr = ACR.mfa;
          amr = ['pwd', 'otp'];
        }
      }
      if (!ok || !user) {
        await attempt.failed();
        await deps.audit.append(deps.directory.db, {
          type: 'auth.login.failed',
          actor: { type: 'anonymous', id: null },
          applicationId: String(interaction.params.client_id),
          tenantId: await eventTenant(deps.directory.db, { clientId: String(interaction.params.client_id) }),
          object: { type: 'user', id: user?.id ?? null },
          action: 'login',
          decision: 'deny',
          reason: blocked ? 'throttled' : 'bad_credentials',
          context,
          details: { account: accountHandle(account) },
        });
        return html(reply, loginPage({ uid: interaction.uid, clientName: name, error: GENERIC_FAILURE, email }), 401);
      }
      await attempt.succeeded();
      await deps.audit.append(deps.directory.db, {
        type: 'auth.login.succeeded',
        actor: { type: 'user', id: user.id },
        applicationId: String(interaction.params.client_id),
        tenantId: await eventTenant(deps.directory.db, { userId: user.id }),
        object: { type: 'user', id: user.id },
        action: 'login',
        decision: 'allow',
        context,
        details: { acr, amr, account: accountHandle(account) },
      });
      reply.hijack();
      await provider.interactionFinished(
        req.raw,
        reply.raw,
        { login: { accountId: user.id, acr, amr, remember: false } },
        { mergeWithLastSubmission: false },
      );
    },
  );

  routes.post(
    '/interaction/:uid/confirm',
    {
      auth,
      catalog: entry('Grant the scopes an application asked for.', 'auth:consent'),
      schema: { params: Uid, response: Page },
    },
    async (req, reply) => {
      const interaction = await details(req, reply);
      const accountId = interaction.session?.accountId;
      if (interaction.prompt.name !== 'consent' || !accountId) return html(reply, '<p>Nothing to confirm.</p>', 400);
      const grant = interaction.grantId
        ? await provider.Grant.find(interaction.grantId)
        : new provider.Grant({ accountId, clientId: String(interaction.params.client_id) });
      if (!grant) return html(reply, '<p>The request has expired.</p>', 400);
      const d = interaction.prompt.details as {
        missingOIDCScope?: string[];
        missingOIDCClaims?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      for (const [resource, scopes] of Object.entries(d.missingResourceScopes ?? {}))
        grant.addResourceScope(resource, scopes.join(' '));
      const grantId = await grant.save();
      await deps.audit.append(deps.directory.db, {
        type: 'auth.consent.granted',
        actor: { type: 'user', id: accountId },
        applicationId: String(interaction.params.client_id),
        tenantId: await eventTenant(deps.directory.db, { userId: accountId }),
        object: { type: 'grant', id: grantId },
        action: 'consent',
        decision: 'allow',
        context: requestContext(req),
        details: { scopes: [...(d.missingOIDCScope ?? []), ...Object.values(d.missingResourceScopes ?? {}).flat()] },
      });
      reply.hijack();
      await provider.interactionFinished(
        req.raw,
        reply.raw,
        { consent: { grantId } },
        { mergeWithLastSubmission: true },
      );
    },
  );

  routes.post(
    '/interaction/:uid/abort',
    {
      auth,
      catalog: entry('Cancel an authorization request.', 'auth:abort'),
      schema: { params: Uid, response: Page },
    },
    async (req, reply) => {
      await details(req, reply);
      reply.hijack();
      await provider.interactionFinished(
        req.raw,
        reply.raw,
        { error: 'access_denied', error_description: 'the user cancelled' },
        { mergeWithLastSubmission: false },
      );
    },
  );
}
