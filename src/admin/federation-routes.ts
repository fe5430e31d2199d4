import { Type } from '@sinclair/typebox';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/index.js';
import type { FederatedIssuerSettings } from '../config/index.js';
import type { CatalogEntry, RouteRegistrar } from '../http/index.js';
import { requestContext } from '../http/index.js';
import {
  federatedIdentitiesOf,
  findFederatedUser,
  findUser,
  type IdentityAuditEvent,
  linkFederatedIdentity,
} from '../identity/index.js';
import { CarapaceError, type Clock } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { operatorOf } from './operator-auth.js';

const closed = { additionalProperties: false } as const;
const entry = (purpose: string, action: string): CatalogEntry => ({
  owner: 'identity',
  purpose,
  callers: ['operator'],
  action,
  classification: 'restricted',
  scopes: [],
  safetyImpact: 'low',
  status: 'stable',
});
const Link = Type.Object(
  {
    issuer: Type.String(),
    subject: Type.String(),
    userId: Type.String(),
    linkedVia: Type.Union([Type.Literal('operator'), Type.Literal('verified_email')]),
    linkedAt: Type.String(),
  },
  closed,
);
const view = (r: { issuer: string; subject: string; user_id: string; linked_via: string; linked_at: string }) => ({
  issuer: r.issuer,
  subject: r.subject,
  userId: r.user_id,
  linkedVia: r.linked_via as 'operator' | 'verified_email',
  linkedAt: r.linked_at,
});

/** The admin plane's federation routes: link an external account (issuer, subject) to a user, list a user's links. */
export function registerFederationRoutes(
  routes: RouteRegistrar<never>,
  deps: {
    db: Kysely<Database>;
    audit: AuditLog<IdentityAuditEvent>;
    clock: Clock;
    issuers: readonly FederatedIssuerSettings[];
  },
): void {
  routes.post(
    '/admin/v1/federation/links',
    {
      auth: { kind: 'operator' },
      catalog: entry('Link an account at an external issuer (issuer, subject) to a Carapace user.', 'identity:link'),
      schema: {
        body: Type.Object(
          {
            issuer: Type.String({ minLength: 1, maxLength: 500 }),
            subject: Type.String({ minLength: 1, maxLength: 255 }),
            userId: Type.String({ minLength: 1, maxLength: 64 }),
          },
          closed,
        ),
        response: { 201: Link },
      },
    },
    async (req, reply) => {
      const { issuer, subject, userId } = req.body;
      if (!deps.issuers.some((i) => i.issuer === issuer))
        throw new CarapaceError('ERR_VALIDATION', 'not a configured issuer (federation.issuers)', {
          field: 'body.issuer',
        });
      const user = await findUser(deps.db, userId);
      if (!user) throw new CarapaceError('ERR_NOT_FOUND', 'no such user');
      const actor = { type: 'operator' as const, id: operatorOf(req).name };
      const link = { issuer, subject, userId, via: 'operator' as const, actor, context: requestContext(req) };
      if (!(await linkFederatedIdentity(deps, link))) {
        const holder = await findFederatedUser(deps.db, issuer, subject);
        throw new CarapaceError(
          'ERR_CONFLICT',
          holder === userId ? 'already linked to this user' : 'this external account is linked to another user',
        );
      }
      const rows = await federatedIdentitiesOf(deps.db, userId);
      const row = rows.find((r) => r.issuer === issuer && r.subject === subject);
      if (!row) throw new CarapaceError('ERR_INTERNAL', 'the link was not stored');
      return reply.code(201).send(view(row));
    },
  );

  routes.get(
    '/admin/v1/users/:userId/federation/links',
    {
      auth: { kind: 'operator' },
      catalog: {
        ...entry('List the external accounts linked to a user.', 'identity:read_links'),
        safetyImpact: 'none',
      },
      schema: {
        params: Type.Object({ userId: Type.String({ minLength: 1, maxLength: 64 }) }, closed),
        response: { 200: Type.Object({ links: Type.Array(Link) }, closed) },
      },
    },
    async (req) => ({ links: (await federatedIdentitiesOf(deps.db, req.params.userId)).map(view) }),
  );
}
