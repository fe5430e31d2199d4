import { Type } from '@sinclair/typebox';
import type { AuditEvidence } from '../audit/index.js';
import type { CatalogEntry, RouteRegistrar } from '../http/index.js';
import { AuditEventView } from './routes.js';

const closed = { additionalProperties: false } as const;
const Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Size = Type.String({ pattern: '^[0-9]{1,15}$' });
/** A signed checkpoint as the admin plane shows it. */
export const CheckpointView = Type.Object(
  { treeSize: Type.Integer(), rootHash: Hex, signedAt: Type.String(), keyId: Type.String(), signature: Type.String() },
  closed,
);
const PublicKeyView = Type.Object({ keyId: Type.String(), pem: Type.String() }, closed);

const entry = (e: Pick<CatalogEntry, 'purpose' | 'action'>): CatalogEntry => ({
  owner: 'audit',
  callers: ['operator'],
  classification: 'restricted',
  scopes: [],
  status: 'beta',
  safetyImpact: 'none',
  ...e,
});

/** The admin plane's audit evidence routes: checkpoints, the public key, inclusion and consistency proofs. */
export function registerAuditEvidenceRoutes(routes: RouteRegistrar, deps: { evidence: AuditEvidence }): void {
  const { evidence } = deps;

  routes.get(
    '/admin/v1/audit/checkpoints/latest',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'The latest signed audit checkpoint (tree head) and the public key that verifies it.',
        action: 'audit:read',
      }),
      schema: {
        response: {
          200: Type.Object({ checkpoint: Type.Union([CheckpointView, Type.Null()]), publicKey: PublicKeyView }, closed),
        },
      },
    },
    async () => ({ checkpoint: await evidence.sealer.latest(), publicKey: evidence.publicKey }),
  );

  routes.post(
    '/admin/v1/audit/checkpoints',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'Seal every committed audit event now and sign a checkpoint over them.',
        action: 'audit:checkpoint',
      }),
      schema: { response: { 201: Type.Object({ checkpoint: Type.Union([CheckpointView, Type.Null()]) }, closed) } },
    },
    async (_req, reply) => reply.code(201).send({ checkpoint: await evidence.sealer.checkpoint() }),
  );

  routes.get(
    '/admin/v1/audit/events/:eventId/inclusion',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'An RFC 6962 inclusion proof of one audit event in a signed checkpoint (the latest by default).',
        action: 'audit:read',
      }),
      schema: {
        params: Type.Object({ eventId: Type.String({ format: 'uuid' }) }, closed),
        querystring: Type.Object({ treeSize: Type.Optional(Size) }, closed),
        response: {
          200: Type.Object(
            {
              eventId: Type.String(),
              seq: Type.Integer(),
              leafIndex: Type.Integer(),
              canonicalEvent: Type.String(),
              leafHash: Hex,
              auditPath: Type.Array(Hex),
              checkpoint: CheckpointView,
            },
            closed,
          ),
        },
      },
    },
    async (req) =>
      evidence.proofs.inclusion(
        req.params.eventId,
        req.query.treeSize === undefined ? undefined : Number(req.query.treeSize),
      ),
  );

  routes.get(
    '/admin/v1/audit/consistency',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'An RFC 6962 consistency proof between two signed checkpoints (the second defaults to the latest).',
        action: 'audit:read',
      }),
      schema: {
        querystring: Type.Object({ first: Size, second: Type.Optional(Size) }, closed),
        response: {
          200: Type.Object({ first: CheckpointView, second: CheckpointView, proof: Type.Array(Hex) }, closed),
        },
      },
    },
    async (req) =>
      evidence.proofs.consistency(
        Number(req.query.first),
        req.query.second === undefined ? undefined : Number(req.query.second),
      ),
  );

  routes.get(
    '/admin/v1/audit/tail',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'Sealed audit events in tree order after a leaf index: a cursor for consumers that never skips.',
        action: 'audit:read',
      }),
      schema: {
        querystring: Type.Object(
          {
            after: Type.Optional(Type.String({ pattern: '^(-1|[0-9]{1,15})$' })),
            limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
          },
          closed,
        ),
        response: {
          200: Type.Object(
            {
              events: Type.Array(Type.Object({ leafIndex: Type.Integer(), event: AuditEventView }, closed)),
              cursor: Type.Integer(),
            },
            closed,
          ),
        },
      },
    },
    async (req) => evidence.tail(Number(req.query.after ?? -1), Number(req.query.limit ?? 100)),
  );
}
