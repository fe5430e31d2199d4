import { Type } from '@sinclair/typebox';
import { API_AUDIENCE } from '../auth/index.js';
import { tokenOf } from '../auth/index.js';
import { CarapaceError } from '../platform/index.js';
import { type ApiRoutes, load, NoQuery } from '../policy/index.js';
import { type Directory, findUser } from '../identity/index.js';

const Me = Type.Object(
  {
    sub: Type.String(),
    email: Type.String(),
    name: Type.String(),
    memberships: Type.Array(
      Type.Object({
        tenantId: Type.String(),
        tenantName: Type.String(),
        tenantKind: Type.String(),
        role: Type.String(),
      }),
    ),
    session: Type.Object({
      clientId: Type.String(),
      scopes: Type.Array(Type.String()),
      acr: Type.Union([Type.String(), Type.Null()]),
      authTime: Type.Union([Type.Number(), Type.Null()]),
      binding: Type.String(),
    }),
  },
  { additionalProperties: false },
);

/** GET /v1/me: who the token's user is, their memberships, and what the token allows. */
export function registerMeRoute(routes: ApiRoutes, deps: { directory: Directory }): void {
  routes.get(
    '/v1/me',
    {
      auth: { kind: 'token', token: { audience: API_AUDIENCE, scopes: [] } },
      authorize: { resource: load.self },
      catalog: {
        owner: 'identity',
        purpose: "The caller's own identity, memberships and token facts.",
        callers: ['user'],
        action: 'identity:read_self',
        classification: 'confidential',
        scopes: [],
        safetyImpact: 'none',
        status: 'stable',
      },
      schema: { querystring: NoQuery, response: { 200: Me } },
    },
    async (req) => {
      const token = tokenOf(req);
      if (!token.sub) throw new CarapaceError('ERR_FORBIDDEN', '/v1/me is for tokens issued to a person');
      const user = await findUser(deps.directory.db, token.sub);
      if (!user) throw new CarapaceError('ERR_NOT_FOUND', 'no such account');
      return {
        sub: user.id,
        email: user.email,
        name: user.displayName,
        memberships: await deps.directory.activeMemberships(user.id),
        session: {
          clientId: token.clientId,
          scopes: [...token.scopes].sort(),
          acr: token.acr,
          authTime: token.authTime,
          binding: token.binding,
        },
      };
    },
  );
}
