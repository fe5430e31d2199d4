import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { CatalogEntry, RouteRegistrar } from '../http/index.js';
import { requestContext } from '../http/index.js';
import { CarapaceError } from '../platform/index.js';
import type { Approvals } from './approvals.js';
import type { AdminAuthorization } from './authorization.js';
import { operatorActor, operatorOf, SESSION_COOKIE } from './principal.js';
import type { OperatorSessions } from './sessions.js';

const closed = { additionalProperties: false } as const;
const Reason = Type.String({ minLength: 3, maxLength: 500 });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Elevation = Type.Object({ until: Type.String(), reason: Type.String() }, closed);
const PermissionView = Type.Object(
  {
    action: Type.String(),
    targetStatus: Type.Optional(Type.String()),
    needs: Type.Union([Type.Literal('nothing'), Type.Literal('elevation'), Type.Literal('approval')]),
  },
  closed,
);
const ApprovalView = Type.Object(
  {
    id: Type.String(),
    action: Type.String(),
    reason: Type.String(),
    requestedBy: Type.String(),
    requestedAt: Type.String(),
    approvedBy: Nullable(Type.String()),
    approvedAt: Nullable(Type.String()),
    expiresAt: Type.String(),
    usedAt: Nullable(Type.String()),
  },
  closed,
);
const entry = (purpose: string, action: string, safetyImpact: CatalogEntry['safetyImpact'] = 'none'): CatalogEntry => ({
  owner: 'operators',
  purpose,
  callers: ['operator'],
  action,
  classification: 'restricted',
  scopes: [],
  safetyImpact,
  status: 'beta',
});
const auth = { kind: 'operator' } as const;

/**
 * Whether the operator of `req` may take `action` themselves (their roles, their own elevation, as if approved):
 * null when they may, else what is missing (an elevation that would do, or the role).
 */
export type MayTake = (
  req: FastifyRequest,
  action: string,
  targetStatus?: string,
) => Promise<'ERR_ELEVATION_REQUIRED' | 'ERR_FORBIDDEN' | null>;

/** The MayTake of the admin plane: the operator's roles and elevation judged by the admin policies. */
export function operatorMayTake(deps: {
  sessions: Pick<OperatorSessions, 'elevation'>;
  authorization: Pick<AdminAuthorization, 'decide'>;
}): MayTake {
  return async (req, action, targetStatus) => {
    const op = operatorOf(req);
    const elevated =
      op.kind === 'certificate' ||
      (op.sessionHash !== null && (await deps.sessions.elevation(op.sessionHash)) !== null);
    const facts = {
      kind: op.kind,
      roles: op.roles,
      elevated,
      approved: true,
      ...(targetStatus ? { targetStatus } : {}),
    };
    const allows = (f: typeof facts) => deps.authorization.decide(op.id, action, f).decision === 'allow';
    if (allows(facts)) return null;
    return !elevated && allows({ ...facts, elevated: true }) ? 'ERR_ELEVATION_REQUIRED' : 'ERR_FORBIDDEN';
  };
}

/** The operator's own routes: who am I, sign-out, elevation, and the two-person approvals. */
export function registerOperatorRoutes(
  routes: RouteRegistrar,
  deps: {
    sessions: Pick<OperatorSessions, 'end' | 'elevate' | 'elevation'>;
    approvals: Approvals;
    authorization: Pick<AdminAuthorization, 'decide' | 'permissionsOf'>;
  },
): void {
  const { sessions, approvals } = deps;
  const mayTake = operatorMayTake(deps);
  const elevationOf = async (hash: string | null) => (hash ? sessions.elevation(hash) : null);

  routes.get(
    '/admin/v1/operator/me',
    {
      auth,
      catalog: entry(
        'Who is signed in: name, kind, roles, active elevation, and the admin actions Cedar allows them (`may`).',
        'operators:read_self',
      ),
      schema: {
        response: {
          200: Type.Object(
            {
              name: Type.String(),
              kind: Type.Union([Type.Literal('person'), Type.Literal('certificate')]),
              roles: Type.Array(Type.String()),
              elevation: Type.Union([Elevation, Type.Null()]),
              /** What the console offers; a hint only, since every request is decided again by the server. */
              may: Type.Array(PermissionView),
            },
            closed,
          ),
        },
      },
    },
    async (req) => {
      const op = operatorOf(req);
      const elevation = await elevationOf(op.sessionHash);
      const elevated = op.kind === 'certificate' || elevation !== null;
      const may = deps.authorization.permissionsOf(op.id, { kind: op.kind, roles: op.roles, elevated });
      return { name: op.name, kind: op.kind, roles: op.roles, elevation, may };
    },
  );

  routes.post(
    '/admin/v1/operator-sign-out',
    {
      auth,
      catalog: entry('End the console session (and its elevation).', 'operators:sign_out'),
      schema: { response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const op = operatorOf(req);
      if (op.sessionHash) await sessions.end(op.sessionHash, 'signed_out', operatorActor(req), requestContext(req));
      reply.header('set-cookie', `${SESSION_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0`);
      return reply.code(204).send(null);
    },
  );

  routes.post(
    '/admin/v1/elevations',
    {
      auth,
      catalog: entry(
        'Elevate the console session for sensitive actions: time-boxed, with a reason.',
        'operators:elevate',
        'high',
      ),
      schema: {
        body: Type.Object({ reason: Reason, minutes: Type.Integer({ minimum: 1, maximum: 480 }) }, closed),
        response: { 201: Elevation },
      },
    },
    async (req, reply) => {
      const op = operatorOf(req);
      if (!op.sessionHash)
        throw new CarapaceError('ERR_CONFLICT', 'a certificate is not elevated: its bound role is its standing grant');
      const elevation = await sessions.elevate({
        sessionHash: op.sessionHash,
        operatorId: op.id,
        actor: operatorActor(req),
        reason: req.body.reason,
        minutes: req.body.minutes,
        context: requestContext(req),
      });
      return reply.code(201).send(elevation);
    },
  );

  routes.get(
    '/admin/v1/approvals',
    {
      auth,
      catalog: entry('Requests for fleet-wide actions not yet used, with their approvals.', 'operators:list_approvals'),
      schema: { response: { 200: Type.Object({ approvals: Type.Array(ApprovalView) }, closed) } },
    },
    async () => ({ approvals: await approvals.open() }),
  );

  routes.post(
    '/admin/v1/approvals',
    {
      auth,
      catalog: entry(
        'Ask a second operator to approve a fleet-wide action (two-person rule).',
        'operators:request_approval',
      ),
      schema: {
        body: Type.Object({ action: Type.String({ minLength: 1, maxLength: 100 }), reason: Reason }, closed),
        response: { 201: ApprovalView },
      },
    },
    async (req, reply) =>
      reply.code(201).send(await approvals.request(operatorActor(req), req.body, requestContext(req))),
  );

  routes.post(
    '/admin/v1/approvals/:approvalId/approve',
    {
      auth,
      catalog: entry("Approve another operator's request for a fleet-wide action.", 'operators:approve', 'high'),
      schema: {
        params: Type.Object({ approvalId: Type.String({ format: 'uuid' }) }, closed),
        response: { 200: ApprovalView },
      },
    },
    // The second pair of eyes must belong to someone who could take the action: never a viewer's rubber stamp.
    async (req) =>
      approvals.approve(operatorActor(req), req.params.approvalId, requestContext(req), (action) =>
        mayTake(req, action),
      ),
  );
}
