import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { API_AUDIENCE, type LoginThrottle } from '../auth/index.js';
import { tokenOf } from '../auth/index.js';
import type { CatalogEntry } from '../http/index.js';
import { requestContext } from '../http/index.js';
import { CarapaceError } from '../platform/index.js';
import { findUser, normalizeEmail, passwordMatches } from '../identity/index.js';
import type { Directory } from '../identity/index.js';
import type { InvitationRow, Invitations } from '../identity/index.js';
import { ROLES } from '../identity/index.js';
import { type ApiRoutes, authorizedOf, load, NoQuery } from '../policy/index.js';

const closed = { additionalProperties: false } as const;
const entry = (purpose: string, action: string, safetyImpact: CatalogEntry['safetyImpact'] = 'low'): CatalogEntry => ({
  owner: 'identity',
  purpose,
  callers: ['user'],
  action,
  classification: 'confidential',
  scopes: [],
  safetyImpact,
  status: 'beta',
});
const token = { audience: API_AUDIENCE, scopes: [] as string[] };
const self = { resource: load.self };
/**
 * Credential changes: the caller's own account, where a refusal by the fresh-sign-in guardrail answers 403 with
 * its reason (the account is visible to its owner) rather than 404.
 */
const credentials = {
  resource: load.self,
  visibleWith: 'identity:read_self',
  denialReasons: { 'guardrail.fresh-sign-in-for-credential-changes': 'fresh_sign_in_required' },
};
const CurrentPassword = Type.String({ minLength: 1, maxLength: 1024 });
const NoContent = { 204: Type.Null() };

function userOf(req: Parameters<typeof tokenOf>[0]): string {
  const sub = tokenOf(req).sub;
  if (!sub) throw new CarapaceError('ERR_FORBIDDEN', 'this route is for tokens issued to a person');
  return sub;
}

/** What the account routes are built on. */
export interface AccountRouteDeps {
  directory: Directory;
  invitations: Invitations;
  /** The sign-in throttle: a current-password check counts against the same limits as a sign-in. */
  throttle: Pick<LoginThrottle, 'begin'>;
}

/**
 * Checks the caller's current password under the sign-in throttle (per account and per source, places reserved
 * before the password is hashed), and audits a refusal. A stolen access token is not enough to change a
 * credential: the thief must also know the password, and gets no more guesses here than on the sign-in page.
 */
async function confirmCurrentPassword(
  req: FastifyRequest,
  deps: AccountRouteDeps,
  userId: string,
  password: string,
  purpose: 'change_password' | 'enroll_mfa',
): Promise<void> {
  const user = await findUser(deps.directory.db, userId);
  if (!user) throw new CarapaceError('ERR_NOT_FOUND', 'no such account');
  const attempt = await deps.throttle.begin(normalizeEmail(user.email), req.socket.remoteAddress ?? 'unknown');
  let reason: 'bad_password' | 'throttled' | null = 'throttled';
  if (!attempt.sourceBlocked && !attempt.accountBlocked)
    reason = (await passwordMatches(deps.directory.db, userId, password)) ? null : 'bad_password';
  if (reason === null) return attempt.succeeded();
  await attempt.failed();
  await deps.directory.recordPasswordCheckFailure(userId, { purpose, reason, context: requestContext(req) });
  // One answer for a wrong password and a paused check, as on the sign-in page.
  throw new CarapaceError('ERR_FORBIDDEN', 'the current password is not right, or checks are paused for a while', {
    reason: 'current_password_refused',
  });
}

/** The signed-in person's own account: password change, sign-in factors, invitations to roles. */
export function registerAccountRoutes(routes: ApiRoutes, deps: AccountRouteDeps): void {
  routes.post(
    '/v1/me/password',
    {
      auth: { kind: 'token', token },
      authorize: credentials,
      catalog: entry(
        "Change the caller's password (current password and a fresh sign-in); every session and token ends.",
        'identity:change_password',
        'high',
      ),
      schema: {
        querystring: NoQuery,
        response: NoContent,
        body: Type.Object(
          {
            currentPassword: CurrentPassword,
            newPassword: Type.String({ minLength: 12, maxLength: 1024 }),
          },
          closed,
        ),
      },
    },
    async (req, reply) => {
      const userId = userOf(req);
      await confirmCurrentPassword(req, deps, userId, req.body.currentPassword, 'change_password');
      await deps.directory.changePassword({ type: 'user', id: userId }, userId, req.body.newPassword);
      return reply.code(204).send(null);
    },
  );

  routes.post(
    '/v1/me/mfa/totp',
    {
      auth: { kind: 'token', token },
      authorize: credentials,
      catalog: entry(
        'Start enrolling a TOTP authenticator (current password and a fresh sign-in): a new secret, shown once.',
        'identity:enroll_mfa',
        'high',
      ),
      schema: {
        querystring: NoQuery,
        body: Type.Object({ currentPassword: CurrentPassword }, closed),
        response: { 201: Type.Object({ secret: Type.String(), otpauthUri: Type.String() }, closed) },
      },
    },
    async (req, reply) => {
      const userId = userOf(req);
      await confirmCurrentPassword(req, deps, userId, req.body.currentPassword, 'enroll_mfa');
      return reply.code(201).send(await deps.directory.beginTotpEnrolment(userId));
    },
  );

  routes.post(
    '/v1/me/mfa/totp/confirm',
    {
      auth: { kind: 'token', token },
      authorize: credentials,
      catalog: entry(
        'Confirm the new authenticator with a code; it becomes the second factor, and every session and token ends.',
        'identity:enroll_mfa',
        'high',
      ),
      schema: {
        querystring: NoQuery,
        response: NoContent,
        body: Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$' }) }, closed),
      },
    },
    async (req, reply) => {
      await deps.directory.confirmTotpEnrolment(userOf(req), req.body.code);
      return reply.code(204).send(null);
    },
  );

  routes.post(
    '/v1/tenants/:tenantId/invitations',
    {
      auth: { kind: 'token', token },
      authorize: {
        resource: load.tenant(),
        visibleWith: 'tenant:read',
        // The role asked for, read before validation: who may grant it is the policies' decision.
        extraContext: async (req) => {
          const role = (req.body as { role?: unknown } | null | undefined)?.role;
          const context: Record<string, string> = typeof role === 'string' ? { role } : {};
          return context;
        },
        denialReasons: { 'self.invite-needs-granting-role': 'granting_role_required' },
      },
      catalog: entry(
        'Invite an email address to a role in a tenant (the only way to a privileged role).',
        'identity:invite',
        'high',
      ),
      schema: {
        params: Type.Object({ tenantId: Type.String({ format: 'uuid' }) }, closed),
        querystring: NoQuery,
        body: Type.Object(
          { email: Type.String({ minLength: 3, maxLength: 320 }), role: Type.Union(ROLES.map((r) => Type.Literal(r))) },
          closed,
        ),
        response: { 201: Type.Object({ id: Type.String(), code: Type.String(), expiresAt: Type.String() }, closed) },
      },
    },
    async (req, reply) => {
      const invitation = await deps.invitations.invite(
        { type: 'user', id: userOf(req) },
        { tenantId: req.params.tenantId, email: req.body.email, role: req.body.role },
      );
      return reply.code(201).send(invitation);
    },
  );

  routes.post(
    '/v1/invitations/accept',
    {
      auth: { kind: 'token', token },
      authorize: {
        ...self,
        // The invitation is named by its code, which stays out of the URL (and so out of access logs); every
        // refusal (unknown, used, expired, someone else's, an inviter who lost the granting role) is one 404.
        within: {
          action: 'invitation:accept',
          resource: async (req, _outer, principal, load) => ({
            resource: await load.invitation((req.body as { code: string }).code, principal),
          }),
        },
      },
      catalog: entry("Accept an invitation addressed to the caller's email.", 'identity:accept_invitation', 'high'),
      schema: {
        querystring: NoQuery,
        body: Type.Object({ code: Type.String({ minLength: 16, maxLength: 64 }) }, closed),
        response: { 200: Type.Object({ tenantId: Type.String(), role: Type.String() }, closed) },
      },
    },
    async (req) => deps.invitations.accept(userOf(req), authorizedOf<InvitationRow>(req).object),
  );
}
