import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { type Kysely, sql } from 'kysely';
import type { Clock } from '../platform/index.js';
import { findUserByEmail, membershipsOf } from '../identity/index.js';
import {
  type Principal,
  apiRoute,
  authorizedOf,
  closed,
  Id,
  load,
  NoQuery,
  NullableString,
  type ApiRoutes,
  decideEach,
  decidedPage,
  MAX_PAGE,
  pageCursor,
  PageQuery,
  type PagePosition,
  plainPage,
  SCAN_MAX,
  type DecisionPoint,
  type EntityLoader,
  type LoadedResource,
  ref,
} from '../policy/index.js';
import type { Database } from '../storage/index.js';
import { requestContext } from '../http/index.js';
import type { Actor } from './access.js';
import { type Cases, MAX_APPROVAL_MINUTES, MAX_SERVICE_CASE_DAYS } from './cases.js';
import type { ServiceCaseRow, SupportCaseRow } from './tables.js';

const CaseParams = Type.Object({ caseId: Id }, closed);
const Resolution = Type.Object({ resolution: Type.String({ minLength: 1, maxLength: 500 }) }, closed);
const ServiceCase = Type.Object(
  {
    id: Type.String(),
    dealerTenantId: Type.String(),
    vehicleId: NullableString,
    reason: Type.String(),
    status: Type.String(),
    requestedAt: Type.String(),
    closesAt: NullableString,
  },
  closed,
);
const SupportCase = Type.Object(
  {
    id: Type.String(),
    accountId: Type.String(),
    vehicleId: NullableString,
    assigneeId: Type.String(),
    summary: Type.String(),
    status: Type.String(),
    openedAt: Type.String(),
  },
  closed,
);
const CasePage = Type.Object({ cases: Type.Array(ServiceCase), next: Type.Optional(Type.String()) }, closed);
/** Where the next page of each case list starts (a cursor from one list is refused by another). */
const DEALER_CASES = pageCursor('dealer-cases');
const VEHICLE_CASES = pageCursor('vehicle-cases');
const SUPPORT_CASES = pageCursor('support-cases');

/** Rows after a page position in a newest-first list: older, or as old with a smaller id. */
const olderThan = (column: 'requested_at' | 'opened_at', after: PagePosition) => {
  const [col, id] = [sql.ref(column), sql.ref('id')];
  return sql<boolean>`(${col} < ${after.key} or (${col} = ${after.key} and ${id} < ${after.id}))`;
};

const Account = Type.Object({ id: Type.String(), name: Type.String(), email: Type.String() }, closed);

const actorOf = (req: FastifyRequest): Actor => {
  const p = authorizedOf(req).principal as Extract<Principal, { kind: 'user' }>;
  return { userId: p.userId, clientId: p.clientId, context: requestContext(req) };
};
/**
 * A dealer sees the vehicle id of a case only once the owner consented: a request, refused or not, never confirms that
 * a VIN exists.
 */
const serviceView = (c: ServiceCaseRow, forDealer: boolean) => ({
  id: c.id,
  dealerTenantId: c.dealer_tenant_id,
  vehicleId: forDealer && c.consented_at === null ? null : c.vehicle_id,
  reason: c.reason,
  status: c.status,
  requestedAt: c.requested_at,
  closesAt: c.closes_at,
});
/** A support case row as the Cedar resource its list is filtered by (the loader's shape, without a query). */
const supportCaseResource = (c: SupportCaseRow): LoadedResource<SupportCaseRow> => {
  const uid = { type: 'SupportCase', id: c.id };
  const attrs: Record<string, ReturnType<typeof ref> | string> = {
    operator: ref('Tenant', c.operator_tenant_id),
    assignee: ref('User', c.assignee_id),
    account: ref('Account', c.account_id),
    status: c.status,
  };
  if (c.vehicle_id) attrs.vehicle = ref('Vehicle', c.vehicle_id);
  return { uid, entities: [{ uid, attrs }], object: c, vehicleId: null, tenantId: c.operator_tenant_id };
};
/** A service case on a vehicle as the Cedar resource its list is filtered by, inside the vehicle's entities. */
const serviceCaseResource = (c: ServiceCaseRow, vehicle: LoadedResource): LoadedResource<ServiceCaseRow> => {
  const uid = { type: 'ServiceCase', id: c.id };
  const attrs: Record<string, ReturnType<typeof ref> | string | number> = {
    dealer: ref('Tenant', c.dealer_tenant_id),
    status: c.status,
    requestedAt: Date.parse(c.requested_at),
  };
  if (c.vehicle_id) attrs.vehicle = ref('Vehicle', c.vehicle_id);
  return {
    uid,
    entities: [{ uid, attrs }, ...vehicle.entities],
    object: c,
    vehicleId: c.vehicle_id,
    tenantId: c.dealer_tenant_id,
  };
};
const supportView = (c: SupportCaseRow) => ({
  id: c.id,
  accountId: c.account_id,
  vehicleId: c.vehicle_id,
  assigneeId: c.assignee_id,
  summary: c.summary,
  status: c.status,
  openedAt: c.opened_at,
});

/** Dealer service cases, support cases with just-in-time approvals, and the support tools (account read, search). */
export function registerCaseRoutes(
  routes: ApiRoutes,
  deps: { db: Kysely<Database>; clock: Clock; cases: Cases; decisions: DecisionPoint; load: EntityLoader },
): void {
  const { db } = deps;
  const now = () => deps.clock.now().toISOString();
  const TenantParams = Type.Object({ tenantId: Id }, closed);
  const effective = (c: ServiceCaseRow): ServiceCaseRow =>
    c.status === 'open' && c.closes_at !== null && c.closes_at <= now() ? { ...c, status: 'closed' } : c;

  routes.post(
    '/v1/dealers/:tenantId/service-cases',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: 'A dealer requests a service case on a vehicle by VIN; nothing is granted until the owner consents.',
        action: 'service_case:request',
        scopes: ['vehicle:diagnostics'],
        safetyImpact: 'low',
        authorize: { resource: load.tenant(), visibleWith: 'tenant:read' },
      }),
      schema: {
        params: TenantParams,
        querystring: NoQuery,
        body: Type.Object(
          { vin: Type.String({ minLength: 17, maxLength: 17 }), reason: Type.String({ minLength: 1, maxLength: 500 }) },
          closed,
        ),
        response: { 202: ServiceCase },
      },
    },
    async (req, reply) => {
      const tenant = authorizedOf<{ id: string }>(req).object;
      return reply
        .code(202)
        .send(serviceView(await deps.cases.requestService(actorOf(req), tenant.id, req.body), true));
    },
  );

  routes.get(
    '/v1/dealers/:tenantId/service-cases',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: "A dealer's service cases.",
        action: 'service_case:list',
        scopes: ['vehicle:diagnostics'],
        authorize: { resource: load.tenant(), visibleWith: 'tenant:read' },
      }),
      schema: {
        params: TenantParams,
        querystring: PageQuery,
        response: { 200: CasePage },
      },
    },
    async (req) => {
      const tenant = authorizedOf<{ id: string }>(req).object;
      const after = DEALER_CASES.read((req.query as { cursor?: string }).cursor);
      const rows = await db
        .selectFrom('service_cases')
        .selectAll()
        .where('dealer_tenant_id', '=', tenant.id)
        .$if(after !== null, (q) => q.where(olderThan('requested_at', after!)))
        .orderBy('requested_at', 'desc')
        .orderBy('id', 'desc')
        .limit(MAX_PAGE + 1)
        .execute();
      const { page, next } = plainPage(req, rows, (c) => ({ key: c.requested_at, id: c.id }), DEALER_CASES);
      return { cases: page.map((c) => serviceView(effective(c), true)), ...(next ? { next } : {}) };
    },
  );

  routes.get(
    '/v1/vehicles/:vehicleId/service-cases',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: "The service cases on the owner's vehicle, including requests waiting for consent.",
        action: 'service_case:list_for_vehicle',
        scopes: ['vehicle:consent'],
        authorize: { resource: load.vehicle(), visibleWith: 'vehicle:read' },
      }),
      schema: {
        params: Type.Object({ vehicleId: Id }, closed),
        querystring: PageQuery,
        response: { 200: CasePage },
      },
    },
    async (req) => {
      const {
        object: vehicle,
        principal,
        resource: outer,
      } = authorizedOf<{
        id: string;
        relationships: Array<{ kind: string; user_id: string | null; valid_from: string }>;
      }>(req);
      // Candidates newest first; the policies decide which the caller reads (owner.read-service-history: the
      // cases of their own ownership, never the previous owner's service history).
      const since = vehicle.relationships.find(
        (r) => r.kind === 'ownership' && principal.kind === 'user' && r.user_id === principal.userId,
      )?.valid_from;
      const after = VEHICLE_CASES.read((req.query as { cursor?: string }).cursor);
      const candidates = await db
        .selectFrom('service_cases')
        .selectAll()
        .where('vehicle_id', '=', vehicle.id)
        .$if(after !== null, (q) => q.where(olderThan('requested_at', after!)))
        .orderBy('requested_at', 'desc')
        .orderBy('id', 'desc')
        .limit(SCAN_MAX + 1)
        .execute();
      const { page, next } = await decidedPage({
        req,
        deps,
        action: 'service_case:read',
        candidates,
        resourceOf: (c) => serviceCaseResource(effective(c), outer),
        positionOf: (c) => ({ key: c.requested_at, id: c.id }),
        cursor: VEHICLE_CASES,
        extra: since === undefined ? {} : { relationshipSince: Date.parse(since) },
      });
      return { cases: page.map((c) => serviceView(effective(c), false)), ...(next ? { next } : {}) };
    },
  );

  routes.post(
    '/v1/service-cases/:caseId/consent',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: "The owner consents to a dealer's case for a number of days.",
        action: 'service_case:consent',
        scopes: ['vehicle:consent'],
        safetyImpact: 'high',
        authorize: { resource: load.serviceCase() },
      }),
      schema: {
        params: CaseParams,
        querystring: NoQuery,
        body: Type.Object({ days: Type.Integer({ minimum: 1, maximum: MAX_SERVICE_CASE_DAYS }) }, closed),
        response: { 200: ServiceCase },
      },
    },
    async (req) =>
      serviceView(
        await deps.cases.consentService(actorOf(req), authorizedOf<ServiceCaseRow>(req).object, req.body.days),
        false,
      ),
  );

  routes.post(
    '/v1/service-cases/:caseId/close',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: "The dealer or the owner closes a service case; the dealer's access ends.",
        action: 'service_case:close',
        scopes: ['vehicle:consent', 'vehicle:diagnostics'],
        anyScope: true,
        safetyImpact: 'low',
        authorize: { resource: load.serviceCase() },
      }),
      schema: {
        params: CaseParams,
        querystring: NoQuery,
        body: Resolution,
        response: { 200: Type.Object({ id: Type.String(), status: Type.String() }, closed) },
      },
    },
    async (req) => {
      const sc = authorizedOf<ServiceCaseRow>(req).object;
      await deps.cases.closeService(actorOf(req), sc, req.body.resolution);
      return { id: sc.id, status: sc.status === 'requested' ? 'refused' : 'closed' };
    },
  );

  routes.post(
    '/v1/support-cases',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose:
          'A security admin opens a support case about an account (and optionally its vehicle) and assigns an agent.',
        action: 'support_case:open',
        scopes: ['security:admin'],
        safetyImpact: 'low',
        authorize: { resource: load.platform },
      }),
      schema: {
        querystring: NoQuery,
        body: Type.Object(
          {
            accountEmail: Type.String({ minLength: 3, maxLength: 320 }),
            assigneeEmail: Type.String({ minLength: 3, maxLength: 320 }),
            vehicleId: Type.Optional(Id),
            summary: Type.String({ minLength: 1, maxLength: 500 }),
          },
          closed,
        ),
        response: { 201: SupportCase },
      },
    },
    async (req, reply) => {
      const platform = authorizedOf<{ operatorTenantId: string }>(req).object;
      return reply
        .code(201)
        .send(supportView(await deps.cases.openSupport(actorOf(req), platform.operatorTenantId, req.body)));
    },
  );

  routes.get(
    '/v1/support-cases',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: 'Open support cases: an agent sees the ones assigned to them, a security admin all of them.',
        action: 'support_case:list',
        scopes: ['support:read'],
        authorize: { resource: load.self },
      }),
      schema: {
        querystring: PageQuery,
        response: { 200: Type.Object({ cases: Type.Array(SupportCase), next: Type.Optional(Type.String()) }, closed) },
      },
    },
    async (req) => {
      const me = actorOf(req).userId;
      const after = SUPPORT_CASES.read((req.query as { cursor?: string }).cursor);
      // Candidates: open cases assigned to the caller or run by a tenant they belong to; the policies decide
      // which of them the caller sees (support.read-case), in one batch.
      const tenants = [...new Set((await membershipsOf(db, me)).map((m) => m.tenantId))];
      const rows = await db
        .selectFrom('support_cases')
        .selectAll()
        .where('status', '=', 'open')
        .where((eb) =>
          eb.or([eb('assignee_id', '=', me), ...(tenants.length ? [eb('operator_tenant_id', 'in', tenants)] : [])]),
        )
        .$if(after !== null, (q) => q.where(olderThan('opened_at', after!)))
        .orderBy('opened_at', 'desc')
        .orderBy('id', 'desc')
        .limit(SCAN_MAX + 1)
        .execute();
      const { page, next } = await decidedPage({
        req,
        deps,
        action: 'support_case:read',
        candidates: rows,
        resourceOf: supportCaseResource,
        positionOf: (c) => ({ key: c.opened_at, id: c.id }),
        cursor: SUPPORT_CASES,
      });
      return { cases: page.map(supportView), ...(next ? { next } : {}) };
    },
  );

  routes.post(
    '/v1/support-cases/:caseId/close',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: 'The assigned agent or a security admin closes a support case; access and unused approvals end.',
        action: 'support_case:close',
        scopes: ['support:read', 'security:admin'],
        anyScope: true,
        safetyImpact: 'low',
        authorize: { resource: load.supportCase() },
      }),
      schema: {
        params: CaseParams,
        querystring: NoQuery,
        body: Resolution,
        response: { 200: Type.Object({ id: Type.String(), status: Type.String() }, closed) },
      },
    },
    async (req) => {
      const sc = authorizedOf<SupportCaseRow>(req).object;
      await deps.cases.closeSupport(actorOf(req), sc, req.body.resolution);
      return { id: sc.id, status: 'closed' };
    },
  );

  routes.post(
    '/v1/support-cases/:caseId/approvals',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose:
          "A security admin approves one physical command for the case's agent on the case's vehicle, for minutes.",
        action: 'support_case:approve_command',
        scopes: ['security:admin'],
        safetyImpact: 'high',
        // A security admin who may see the case learns why an approval is refused (a stale second factor).
        authorize: { resource: load.supportCase(), visibleWith: 'support_case:read' },
      }),
      schema: {
        params: CaseParams,
        querystring: NoQuery,
        body: Type.Object(
          {
            command: Type.String({ enum: [...deps.cases.approvableCommands] }),
            reason: Type.String({ minLength: 1, maxLength: 500 }),
            minutes: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_APPROVAL_MINUTES })),
          },
          closed,
        ),
        response: {
          201: Type.Object(
            {
              id: Type.String(),
              supportCaseId: Type.String(),
              agentId: Type.String(),
              vehicleId: Type.String(),
              command: Type.String(),
              expiresAt: Type.String(),
            },
            closed,
          ),
        },
      },
    },
    async (req, reply) => {
      const a = await deps.cases.approveCommand(actorOf(req), authorizedOf<SupportCaseRow>(req).object, req.body);
      return reply.code(201).send({
        id: a.id,
        supportCaseId: a.support_case_id,
        agentId: a.agent_id,
        vehicleId: a.vehicle_id,
        command: a.command,
        expiresAt: a.expires_at,
      });
    },
  );

  routes.get(
    '/v1/accounts/:accountId',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose: 'An account as a support agent with an open case about it sees it.',
        action: 'account:read',
        scopes: ['support:read'],
        authorize: { resource: load.account() },
      }),
      schema: {
        params: Type.Object({ accountId: Id }, closed),
        querystring: NoQuery,
        response: {
          200: Type.Object(
            { id: Type.String(), name: Type.String(), email: Type.String(), vehicleIds: Type.Array(Type.String()) },
            closed,
          ),
        },
      },
    },
    async (req) => {
      const user = authorizedOf<{ id: string; email: string; display_name: string }>(req).object;
      const owned = await db
        .selectFrom('relationships')
        .select(['vehicle_id'])
        .where('user_id', '=', user.id)
        .where('kind', '=', 'ownership')
        .where('ended_at', 'is', null)
        .where('valid_from', '<=', now())
        .execute();
      return {
        id: user.id,
        name: user.display_name,
        email: user.email,
        vehicleIds: owned.map((o) => o.vehicle_id as string).sort(),
      };
    },
  );

  routes.get(
    '/v1/support/accounts',
    {
      ...apiRoute({
        owner: 'relationships',
        purpose:
          'Support search: only accounts with an open case assigned to the caller (any open case for a security ' +
          'admin).',
        action: 'support:search',
        scopes: ['support:read'],
        authorize: { resource: load.self },
      }),
      schema: {
        querystring: Type.Object({ email: Type.String({ minLength: 1, maxLength: 320 }) }, closed),
        response: { 200: Type.Object({ accounts: Type.Array(Account) }, closed) },
      },
    },
    async (req) => {
      const email = req.query.email.trim().toLowerCase();
      const account = await findUserByEmail(db, email);
      // The account is found only through an open case the caller may read (support.read-case decides).
      const cases = account
        ? await db
            .selectFrom('support_cases')
            .selectAll()
            .where('status', '=', 'open')
            .where('account_id', '=', account.id)
            .orderBy('opened_at', 'desc')
            .limit(100)
            .execute()
        : [];
      const allowed = await decideEach(req, deps, 'support_case:read', cases.map(supportCaseResource));
      const found = account !== undefined && allowed.some(Boolean);
      return { accounts: found ? [{ id: account.id, name: account.displayName, email: account.email }] : [] };
    },
  );
}
