import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { CarapaceError } from '../platform/index.js';
import { type Action, STEP_ADMIN_ACTIONS } from './playbooks.js';
import { operatorOf } from '../admin/index.js';
import type { CatalogEntry, RouteRegistrar } from '../http/index.js';
import { requestContext } from '../http/index.js';
import type { Incidents } from './service.js';
import {
  DryRunView,
  GovernanceView,
  IncidentDetailView,
  IncidentView,
  NotificationView,
  PlaybookView,
  RunView,
} from './views.js';

const closed = { additionalProperties: false } as const;
const Id = Type.String({ format: 'uuid' });
const IncidentParams = Type.Object({ incidentId: Id }, closed);
const PlaybookParams = Type.Object(
  { incidentId: Id, playbookId: Type.String({ pattern: '^[a-z0-9-]{1,64}$' }) },
  closed,
);
const Reason = Type.String({ minLength: 1, maxLength: 500 });
const Limit = Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' }));
const Severity = Type.Union(['low', 'medium', 'high', 'critical'].map((s) => Type.Literal(s)));
const State = Type.Union(['open', 'triaged', 'contained', 'recovered', 'closed'].map((s) => Type.Literal(s)));
const AssetList = Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 1000 }));
const AssetsInput = Type.Object(
  {
    vehicles: AssetList,
    devices: AssetList,
    users: AssetList,
    clients: AssetList,
    tenants: AssetList,
    serials: AssetList,
    thumbprints: AssetList,
    networks: AssetList,
  },
  closed,
);

const entry = (e: Pick<CatalogEntry, 'purpose' | 'action' | 'safetyImpact'>): CatalogEntry => ({
  owner: 'incidents',
  callers: ['operator'],
  classification: 'restricted',
  scopes: [],
  status: 'beta',
  ...e,
});
const auth = { kind: 'operator' } as const;
const limitOf = (l: string | undefined) => Math.min(Math.max(Number(l ?? 100), 1), 500);

/** The admin plane's incident routes: incidents, scoping, playbooks, approvals, notifications, governance. */
export function registerIncidentRoutes(
  routes: RouteRegistrar,
  deps: {
    incidents: Incidents;
    /** Whether the operator of a request may take an admin action themselves (a step's, see STEP_ADMIN_ACTIONS). */
    mayTake: (
      req: FastifyRequest,
      action: string,
      targetStatus?: string,
    ) => Promise<'ERR_ELEVATION_REQUIRED' | 'ERR_FORBIDDEN' | null>;
  },
): void {
  const { incidents } = deps;
  /** Refuses when a step's admin action is beyond the operator: a playbook is never a way around a role. */
  const requireSteps = async (req: FastifyRequest, actions: readonly string[]) => {
    for (const a of new Set(actions)) {
      const needed = STEP_ADMIN_ACTIONS[a as Action];
      if (needed === undefined) throw new CarapaceError('ERR_FORBIDDEN', `unknown playbook action ${a}`);
      const refusal = needed ? await deps.mayTake(req, needed.action, needed.targetStatus) : null;
      if (refusal)
        throw new CarapaceError(refusal, `the step "${a}" needs "${needed?.action}", which you may not take yourself`);
    }
  };
  const who = (req: Parameters<typeof operatorOf>[0]) => ({ type: 'operator' as const, id: operatorOf(req).name });
  const detail = { params: IncidentParams, response: { 200: IncidentDetailView } };

  routes.get(
    '/admin/v1/incidents',
    {
      auth,
      catalog: entry({ purpose: 'List incidents, newest first.', action: 'incidents:list', safetyImpact: 'none' }),
      schema: {
        querystring: Type.Object({ state: Type.Optional(State), limit: Limit }, closed),
        response: { 200: Type.Object({ incidents: Type.Array(IncidentView) }, closed) },
      },
    },
    async (req) => ({ incidents: await incidents.list({ state: req.query.state, limit: limitOf(req.query.limit) }) }),
  );

  routes.post(
    '/admin/v1/incidents',
    {
      auth,
      catalog: entry({
        purpose: 'Open an incident from reported findings and/or named assets.',
        action: 'incidents:open',
        safetyImpact: 'low',
      }),
      schema: {
        body: Type.Object(
          {
            title: Type.String({ minLength: 1, maxLength: 200 }),
            severity: Severity,
            tenantId: Type.Optional(Type.String({ maxLength: 64 })),
            findingIds: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 })),
            assets: Type.Optional(AssetsInput),
          },
          closed,
        ),
        response: { 201: IncidentDetailView },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const id = await incidents.open(
        { title: b.title, severity: b.severity, tenantId: b.tenantId, findingIds: b.findingIds, assets: b.assets },
        who(req),
        requestContext(req),
      );
      return reply.code(201).send(await incidents.get(id));
    },
  );

  routes.get(
    '/admin/v1/incidents/:incidentId',
    {
      auth,
      catalog: entry({
        purpose: 'Read an incident: state, owner, assets, scope, findings and timeline.',
        action: 'incidents:read',
        safetyImpact: 'none',
      }),
      schema: detail,
    },
    async (req) => incidents.get(req.params.incidentId),
  );

  routes.post(
    '/admin/v1/incidents/:incidentId/transitions',
    {
      auth,
      catalog: entry({
        purpose: 'Move an incident through its lifecycle (open, triaged, contained, recovered, closed, reopen).',
        action: 'incidents:transition',
        safetyImpact: 'low',
      }),
      schema: {
        params: IncidentParams,
        body: Type.Object(
          {
            to: State,
            reason: Reason,
            resolution: Type.Optional(Type.Union([Type.Literal('resolved'), Type.Literal('false_positive')])),
          },
          closed,
        ),
        response: { 200: IncidentDetailView },
      },
    },
    async (req) => {
      await incidents.transition(req.params.incidentId, req.body, who(req), requestContext(req));
      return incidents.get(req.params.incidentId);
    },
  );

  routes.post(
    '/admin/v1/incidents/:incidentId/owner',
    {
      auth,
      catalog: entry({ purpose: "Set an incident's owner.", action: 'incidents:assign', safetyImpact: 'none' }),
      schema: {
        params: IncidentParams,
        body: Type.Object(
          { owner: Type.Union([Type.String({ pattern: '^[a-z0-9._-]{1,64}$' }), Type.Null()]) },
          closed,
        ),
        response: { 200: IncidentDetailView },
      },
    },
    async (req) => {
      await incidents.assign(req.params.incidentId, req.body.owner, who(req), requestContext(req));
      return incidents.get(req.params.incidentId);
    },
  );

  routes.post(
    '/admin/v1/incidents/:incidentId/notes',
    {
      auth,
      catalog: entry({
        purpose: "Add a note to an incident's timeline.",
        action: 'incidents:note',
        safetyImpact: 'none',
      }),
      schema: {
        params: IncidentParams,
        body: Type.Object({ text: Type.String({ minLength: 1, maxLength: 2000 }) }, closed),
        response: { 200: IncidentDetailView },
      },
    },
    async (req) => {
      await incidents.note(req.params.incidentId, req.body.text, who(req), requestContext(req));
      return incidents.get(req.params.incidentId);
    },
  );

  routes.post(
    '/admin/v1/incidents/:incidentId/findings',
    {
      auth,
      catalog: entry({
        purpose: 'Attach a reported finding to an incident.',
        action: 'incidents:attach_finding',
        safetyImpact: 'none',
      }),
      schema: {
        params: IncidentParams,
        body: Type.Object({ findingId: Type.String({ minLength: 1, maxLength: 64 }) }, closed),
        response: { 200: IncidentDetailView },
      },
    },
    async (req) => {
      await incidents.attach(req.params.incidentId, req.body.findingId, who(req), requestContext(req));
      return incidents.get(req.params.incidentId);
    },
  );

  routes.post(
    '/admin/v1/incidents/:incidentId/scope',
    {
      auth,
      catalog: entry({
        purpose: 'Scope (or re-scope) an incident: its affected vehicles with evidence, from the investigation API.',
        action: 'incidents:scope',
        safetyImpact: 'none',
      }),
      schema: {
        params: IncidentParams,
        body: Type.Optional(Type.Object({}, closed)),
        response: { 200: IncidentDetailView },
      },
    },
    async (req) => {
      await incidents.scope(req.params.incidentId, who(req), requestContext(req));
      return incidents.get(req.params.incidentId);
    },
  );

  routes.get(
    '/admin/v1/playbooks',
    {
      auth,
      catalog: entry({
        purpose: 'List the loaded playbooks.',
        action: 'incidents:list_playbooks',
        safetyImpact: 'none',
      }),
      schema: { response: { 200: Type.Object({ playbooks: Type.Array(PlaybookView) }, closed) } },
    },
    async () => ({ playbooks: incidents.playbooks() }),
  );

  routes.post(
    '/admin/v1/incidents/:incidentId/playbooks/:playbookId/dry-run',
    {
      auth,
      catalog: entry({
        purpose: 'Show what a playbook would do on an incident: resolved steps, targets, approvals. Changes nothing.',
        action: 'incidents:dry_run',
        safetyImpact: 'none',
      }),
      schema: { params: PlaybookParams, response: { 200: DryRunView } },
    },
    async (req) => incidents.dryRun(req.params.incidentId, req.params.playbookId),
  );

  routes.post(
    '/admin/v1/incidents/:incidentId/playbooks/:playbookId/runs',
    {
      auth,
      catalog: entry({
        purpose: 'Run a playbook on an incident: automatic steps run at once, others wait for approval.',
        action: 'incidents:run_playbook',
        safetyImpact: 'high',
      }),
      schema: {
        params: PlaybookParams,
        // The dry run's digest: the run is refused when the targets changed since the operator reviewed them.
        querystring: Type.Object(
          { expectDigest: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) },
          closed,
        ),
        response: { 201: RunView },
      },
    },
    async (req, reply) => {
      const operator = operatorOf(req).name;
      const { incidentId, playbookId } = req.params;
      await requireSteps(req, incidents.autoActions(playbookId));
      const run = await incidents.run(incidentId, playbookId, operator, requestContext(req), req.query.expectDigest);
      return reply.code(201).send(run);
    },
  );

  routes.get(
    '/admin/v1/incidents/:incidentId/runs',
    {
      auth,
      catalog: entry({
        purpose: "List an incident's playbook runs with each step's state and timings.",
        action: 'incidents:list_runs',
        safetyImpact: 'none',
      }),
      schema: { params: IncidentParams, response: { 200: Type.Object({ runs: Type.Array(RunView) }, closed) } },
    },
    async (req) => ({ runs: await incidents.runs(req.params.incidentId) }),
  );

  routes.post(
    '/admin/v1/playbook-steps/:stepId/decision',
    {
      auth,
      catalog: entry({
        purpose: 'Approve or reject a playbook step waiting for approval (two operators above the vehicle threshold).',
        action: 'incidents:approve_step',
        safetyImpact: 'high',
      }),
      schema: {
        params: Type.Object({ stepId: Id }, closed),
        body: Type.Object(
          { decision: Type.Union([Type.Literal('approve'), Type.Literal('reject')]), reason: Reason },
          closed,
        ),
        response: { 200: RunView },
      },
    },
    async (req) => {
      if (req.body.decision === 'approve') await requireSteps(req, [await incidents.stepAction(req.params.stepId)]);
      return incidents.decide(
        req.params.stepId,
        req.body.decision,
        operatorOf(req).name,
        req.body.reason,
        requestContext(req),
      );
    },
  );

  routes.get(
    '/admin/v1/incident-notifications',
    {
      auth,
      catalog: entry({
        purpose: 'List queued incident notifications (pending: delivery comes with webhooks).',
        action: 'incidents:list_notifications',
        safetyImpact: 'none',
      }),
      schema: {
        querystring: Type.Object({ incidentId: Type.Optional(Id), limit: Limit }, closed),
        response: { 200: Type.Object({ notifications: Type.Array(NotificationView) }, closed) },
      },
    },
    async (req) => ({
      notifications: await incidents.notifications({
        incidentId: req.query.incidentId,
        limit: limitOf(req.query.limit),
      }),
    }),
  );

  routes.get(
    '/admin/v1/governance/response',
    {
      auth,
      catalog: entry({
        purpose:
          'Response governance numbers: time to revoke, time to identify affected vehicles, cross-tenant denials.',
        action: 'incidents:governance',
        safetyImpact: 'none',
      }),
      schema: {
        querystring: Type.Object({ days: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })) }, closed),
        response: { 200: GovernanceView },
      },
    },
    async (req) => incidents.governance(Math.min(Math.max(Number(req.query.days ?? 30), 1), 365)),
  );
}
