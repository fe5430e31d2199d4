import { Type } from '@sinclair/typebox';
import { AuditEventView, CheckpointView, operatorOf } from '../admin/index.js';
import { type AuditProofs, type InclusionProof, readAuditEventsByIds } from '../audit/index.js';
import type { CatalogEntry, RouteRegistrar } from '../http/index.js';
import { CarapaceError } from '../platform/index.js';
import type { DetectionEngine } from './engine.js';
import { effectiveRule, type RuleOverrides } from './overrides.js';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';

const closed = { additionalProperties: false } as const;
const S = Type.String();
const Nul = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Strings = Type.Array(S);
const SeverityView = Type.Union([
  Type.Literal('low'),
  Type.Literal('medium'),
  Type.Literal('high'),
  Type.Literal('critical'),
]);
const StatusView = Type.Union([Type.Literal('open'), Type.Literal('resolved'), Type.Literal('suppressed')]);

/** A finding as the admin plane shows it (the `Finding` contract, closed). */
export const FindingView = Type.Object(
  {
    id: S,
    ruleId: S,
    ruleVersion: Type.Integer(),
    title: S,
    severity: SeverityView,
    tenantId: Nul(S),
    groupKey: S,
    status: StatusView,
    assets: Type.Object(
      {
        vehicles: Strings,
        devices: Strings,
        users: Strings,
        clients: Strings,
        tenants: Strings,
        serials: Strings,
        thumbprints: Strings,
        networks: Strings,
      },
      closed,
    ),
    truncated: Type.Boolean(),
    firstSeen: S,
    lastSeen: S,
    count: Type.Integer(),
    evidence: Strings,
    summary: S,
    incidentId: Nul(S),
  },
  closed,
);

const Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });
const ProofView = Type.Object(
  {
    eventId: S,
    seq: Type.Integer(),
    leafIndex: Type.Integer(),
    canonicalEvent: S,
    leafHash: Hex,
    auditPath: Type.Array(Hex),
    checkpoint: CheckpointView,
  },
  closed,
);

const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);
const StatusScalars = Type.Record(Type.String(), Scalar);

const entry = (e: Pick<CatalogEntry, 'purpose' | 'action'>): CatalogEntry => ({
  owner: 'detect',
  callers: ['operator'],
  classification: 'restricted',
  scopes: [],
  status: 'beta',
  safetyImpact: 'none',
  ...e,
});

const FindingId = Type.Object({ findingId: Type.String({ format: 'uuid' }) }, closed);
const notFound = () => new CarapaceError('ERR_NOT_FOUND', 'no such finding');

/** The admin plane's detection routes: findings, their evidence and proofs, status changes, the loaded rules. */
export function registerDetectionRoutes(
  routes: RouteRegistrar,
  deps: {
    engine: DetectionEngine;
    db: Kysely<Database>;
    proofs: Pick<AuditProofs, 'inclusionOfEach'>;
    overrides: RuleOverrides;
    enabled: boolean;
  },
): void {
  const { engine } = deps;

  routes.get(
    '/admin/v1/findings',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'List detection findings, newest first, by status, rule, severity, tenant, time.',
        action: 'detect:read',
      }),
      schema: {
        querystring: Type.Object(
          {
            status: Type.Optional(StatusView),
            rule: Type.Optional(Type.String({ maxLength: 100 })),
            severity: Type.Optional(SeverityView),
            tenant: Type.Optional(Type.String({ maxLength: 100 })),
            since: Type.Optional(Type.String({ format: 'date-time' })),
            limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
            cursor: Type.Optional(Type.String({ maxLength: 500 })),
          },
          closed,
        ),
        response: { 200: Type.Object({ findings: Type.Array(FindingView), next: Nul(S) }, closed) },
      },
    },
    async (req) => {
      const { limit, since, ...q } = req.query;
      return engine.findings.list({
        ...q,
        since: since === undefined ? undefined : new Date(since).toISOString(),
        limit: limit === undefined ? undefined : Number(limit),
      });
    },
  );

  routes.get(
    '/admin/v1/findings/:findingId',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'One finding with its evidence events and, when asked, their inclusion proofs (unsealed say so).',
        action: 'detect:read',
      }),
      schema: {
        params: FindingId,
        querystring: Type.Object(
          { proofs: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) },
          closed,
        ),
        response: {
          200: Type.Object(
            {
              finding: FindingView,
              events: Type.Array(AuditEventView),
              proofs: Type.Union([
                Type.Object({ inclusion: Type.Array(ProofView), unsealed: Strings }, closed),
                Type.Null(),
              ]),
            },
            closed,
          ),
        },
      },
    },
    async (req) => {
      const finding = await engine.findings.get(req.params.findingId);
      if (!finding) throw notFound();
      const events = await readAuditEventsByIds(deps.db, finding.evidence);
      return {
        finding,
        events,
        proofs: req.query.proofs === 'true' ? await proofsOf(deps.proofs, finding.evidence) : null,
      };
    },
  );

  routes.post(
    '/admin/v1/findings/:findingId/status',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'Resolve or suppress a finding, with a reason; audited with the operator.',
        action: 'detect:update_finding',
      }),
      schema: {
        params: FindingId,
        body: Type.Object(
          {
            status: Type.Union([Type.Literal('resolved'), Type.Literal('suppressed')]),
            reason: Type.String({ minLength: 1, maxLength: 500 }),
          },
          closed,
        ),
        response: { 200: Type.Object({ finding: FindingView }, closed) },
      },
    },
    async (req) => {
      const operator = operatorOf(req);
      const finding = await engine.findings.setStatus(req.params.findingId, {
        ...req.body,
        operator: operator.name,
        requestId: req.id,
      });
      if (!finding) throw notFound();
      return { finding };
    },
  );

  routes.get(
    '/admin/v1/detections',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'The loaded detection rules with their effective parameters, and the engine state.',
        action: 'detect:read',
      }),
      schema: {
        response: {
          200: Type.Object(
            {
              rules: Type.Array(
                Type.Object(
                  {
                    id: S,
                    version: Type.Integer(),
                    title: S,
                    severity: SeverityView,
                    enabled: Type.Boolean(),
                    kind: S,
                    effective: StatusScalars,
                    overrides: StatusScalars,
                    tenantOverrides: Type.Record(Type.String(), StatusScalars),
                  },
                  closed,
                ),
              ),
              engine: Type.Object(
                {
                  enabled: Type.Boolean(),
                  node: S,
                  leaseHeld: Type.Boolean(),
                  cursor: Type.Union([
                    Type.Object({ high: Type.Integer(), gaps: Type.Integer(), version: Type.Integer() }, closed),
                    Type.Null(),
                  ]),
                  lagEvents: Type.Integer(),
                  lagMs: Type.Number(),
                  evaluated: Type.Integer(),
                  discarded: Type.Integer(),
                  replayed: Type.Integer(),
                  gapsGivenUp: Type.Integer(),
                  findingsRaised: Type.Integer(),
                  findingsUpdated: Type.Integer(),
                  lastRoundAt: Nul(S),
                  lastError: Nul(S),
                },
                closed,
              ),
            },
            closed,
          ),
        },
      },
    },
    async () => ({
      rules: engine.rules.map((r) => {
        const effective = effectiveRule(r, deps.overrides, null);
        return {
          id: r.id,
          version: r.version,
          title: r.title,
          severity: effective.severity,
          enabled: effective.enabled,
          kind: r.evaluate.kind,
          effective: Object.fromEntries(
            Object.entries(effective.evaluate).filter(([, v]) => typeof v !== 'object'),
          ) as Record<string, string | number | boolean>,
          ...overridesOf(deps.overrides, r.id),
        };
      }),
      engine: { enabled: deps.enabled, ...engine.status() },
    }),
  );
}

type Scalars = Record<string, string | number | boolean | null>;

/** A rule's overrides as the admin plane shows them: its own, and each tenant's. */
function overridesOf(all: RuleOverrides, id: string): { overrides: Scalars; tenantOverrides: Record<string, Scalars> } {
  const { tenants, ...own } = all[id] ?? {};
  return { overrides: own as Scalars, tenantOverrides: (tenants ?? {}) as Record<string, Scalars> };
}

async function proofsOf(
  proofs: Pick<AuditProofs, 'inclusionOfEach'>,
  ids: string[],
): Promise<{ inclusion: InclusionProof[]; unsealed: string[] }> {
  const got = await proofs.inclusionOfEach(ids).catch((err: unknown) => {
    // No checkpoint yet: every event is unsealed, which the answer says rather than failing.
    if (err instanceof CarapaceError && err.code === 'ERR_AUDIT_NOT_SEALED') return new Map<string, null>();
    throw err;
  });
  return {
    inclusion: ids.map((id) => got.get(id)).filter((p): p is InclusionProof => !!p),
    unsealed: ids.filter((id) => !got.get(id)),
  };
}
