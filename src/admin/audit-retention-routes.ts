import { Type } from '@sinclair/typebox';
import type { AuditEvidence } from '../audit/index.js';
import type { CatalogEntry, RouteRegistrar } from '../http/index.js';
import { requestContext } from '../http/index.js';
import { operatorOf } from './operator-auth.js';

const closed = { additionalProperties: false } as const;
const Nullable = <T extends ReturnType<typeof Type.String | typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()]);
const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Reason = Type.String({ minLength: 1, maxLength: 500 });
const HoldView = Type.Object(
  {
    id: Type.String(),
    fromSeq: Nullable(Type.Integer()),
    toSeq: Nullable(Type.Integer()),
    from: Nullable(Type.String()),
    to: Nullable(Type.String()),
    reason: Type.String(),
    createdBy: Type.String(),
    createdAt: Type.String(),
    released: Type.Union([
      Type.Object({ by: Type.String(), at: Type.String(), reason: Type.String() }, closed),
      Type.Null(),
    ]),
  },
  closed,
);
const PruneView = Type.Object(
  {
    dryRun: Type.Boolean(),
    fromLeaf: Type.Integer(),
    toLeaf: Type.Integer(),
    events: Type.Integer(),
    keptNodes: Type.Integer(),
    stoppedBy: Type.String(),
  },
  closed,
);

const entry = (e: Pick<CatalogEntry, 'purpose' | 'action'>): CatalogEntry => ({
  owner: 'audit',
  callers: ['operator'],
  classification: 'restricted',
  scopes: [],
  status: 'beta',
  safetyImpact: 'none',
  ...e,
});

/** The admin plane's audit retention routes: prune now (or a dry run), and place, list and release legal holds. */
export function registerAuditRetentionRoutes(routes: RouteRegistrar, deps: { evidence: AuditEvidence }): void {
  const { evidence } = deps;
  const by = (req: Parameters<typeof operatorOf>[0]) => ({
    actor: { type: 'operator' as const, id: operatorOf(req).name },
    context: requestContext(req),
  });

  routes.post(
    '/admin/v1/audit/prune',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'Prune audit events older than the retention, up to a signed checkpoint and never past a legal hold.',
        action: 'audit:prune',
      }),
      schema: {
        body: Type.Object({ dryRun: Type.Optional(Type.Boolean()) }, closed),
        response: { 200: PruneView },
      },
    },
    async (req) => evidence.retention.prune({ dryRun: req.body.dryRun === true, ...by(req) }),
  );

  routes.get(
    '/admin/v1/audit/holds',
    {
      auth: { kind: 'operator' },
      catalog: entry({ purpose: 'Legal holds on the audit trail, released ones included.', action: 'audit:read' }),
      schema: { response: { 200: Type.Object({ holds: Type.Array(HoldView) }, closed) } },
    },
    async () => ({ holds: await evidence.holds.list() }),
  );

  routes.post(
    '/admin/v1/audit/holds',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'Place a legal hold on a seq range or a time window of the audit trail: pruning keeps it.',
        action: 'audit:hold',
      }),
      schema: {
        body: Type.Object(
          {
            fromSeq: Type.Optional(Seq),
            toSeq: Type.Optional(Seq),
            from: Type.Optional(Type.String({ maxLength: 40 })),
            to: Type.Optional(Type.String({ maxLength: 40 })),
            reason: Reason,
          },
          closed,
        ),
        response: { 201: HoldView },
      },
    },
    async (req, reply) => reply.code(201).send(await evidence.holds.add(req.body, by(req))),
  );

  routes.post(
    '/admin/v1/audit/holds/:holdId/release',
    {
      auth: { kind: 'operator' },
      catalog: entry({ purpose: 'Release a legal hold on the audit trail.', action: 'audit:hold' }),
      schema: {
        params: Type.Object({ holdId: Type.String({ format: 'uuid' }) }, closed),
        body: Type.Object({ reason: Reason }, closed),
        response: { 200: HoldView },
      },
    },
    async (req) => evidence.holds.release(req.params.holdId, req.body.reason, by(req)),
  );
}
