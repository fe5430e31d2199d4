import { findApplication } from '../identity/index.js';
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { untrusted } from '../audit/index.js';
import { ACR, tokenOf } from '../tokens/index.js';
import type { App } from '../http/index.js';
import type { CatalogEntry } from '../http/index.js';
import type { ListenerSecurity, RouteRegistrar } from '../http/index.js';
import { requestContext } from '../http/index.js';
import { CarapaceError, type Tracer, untraced } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { PolicyAuditLog } from './audit-events.js';
import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { Decision, DecisionPoint, Entity } from './decision-point.js';
import type { EntityLoader, LoadedResource, Principal } from './entities.js';
import { cedarRequest, type Freshness } from './request.js';
import type { Clock } from '../platform/index.js';

/** How a route finds the object it acts on, from the request path (never from the body). */
export interface AuthorizeSpec {
  /** Loads the object named by the path parameters, or the caller's own account for routes without one. */
  resource: (req: FastifyRequest, load: EntityLoader, principal: Principal) => Promise<LoadedResource>;
  /**
   * An action that, when allowed, means the caller may see the object: a denied action then answers 403
   * (you see it but may not do this) instead of 404. Without it, every denial is a 404.
   */
  visibleWith?: string;
  /** For `vehicle:command`: the command asked for, read from the validated body by the commands module. */
  command?: (req: FastifyRequest) => string | null;
  /** Further request facts some policies need (the commands module: the platform operator, a recorded reason). */
  extraContext?: (req: FastifyRequest, load: EntityLoader) => Promise<Record<string, CedarValueJson>>;
  /**
   * An object inside the authorized one (a vehicle's command job), loaded once the outer object is allowed
   * and the request is valid, and authorized on its own with `action`. Its denial answers exactly like a
   * missing object (404); the handler then receives the inner object.
   */
  within?: {
    action: string;
    resource: (
      req: FastifyRequest,
      outer: LoadedResource,
      principal: Principal,
      load: EntityLoader,
    ) => Promise<{ resource: LoadedResource; context?: Record<string, CedarValueJson> }>;
  };
  /** Problem `reason`s for denials decided by named forbid policies (e.g. a token without the command's scope). */
  denialReasons?: Record<string, string>;
  /**
   * The error a denial by a named forbid policy answers with, for a caller who may see the object (a step-up
   * challenge instead of a bare 403); without visibility the denial stays a 404.
   */
  denialErrors?: Record<string, () => CarapaceError>;
}

/** What a handler receives: the authorized object, who asked, and the decision that let them. */
export interface Authorized<T = unknown> {
  object: T;
  principal: Principal;
  decision: Decision;
  /** The loaded object with its Cedar entities: what list routes decide inner objects against, without a reload. */
  resource: LoadedResource;
  /** The clock reading and step-up window the route was decided with: list filtering judges sign-in age the same. */
  freshness: Freshness;
}

declare module 'fastify' {
  interface FastifyRequest {
    authorized: Authorized | null;
  }
}

/** The authorized object of a request, typed by the route that loaded it. */
export function authorizedOf<T>(req: FastifyRequest): Authorized<T> {
  if (!req.authorized) throw new Error(`route ${req.routeOptions.url} reached its handler without authorization`);
  return req.authorized as Authorized<T>;
}

/** The caller of a verified token: a person, or a partner acting for itself; anything else is null. */
async function principalOf(req: FastifyRequest, db: Kysely<Database>): Promise<Principal | null> {
  const token = tokenOf(req);
  if (token.sub) return { kind: 'user', userId: token.sub, clientId: token.clientId };
  const app = await findApplication(db, token.clientId);
  return app?.kind === 'partner' ? { kind: 'application', clientId: token.clientId } : null;
}

/**
 * The caller's own tenant, for decisions about objects that belong to no tenant (their own account) or
 * that do not exist: an application's tenant, or the first tenant a person holds a role in.
 */
export function homeTenant(entity: Entity | null): string | null {
  const attrs = (entity?.attrs ?? {}) as Record<string, unknown>;
  const idOf = (v: unknown): string | null => {
    const e = (v as { __entity?: { id?: unknown } } | null)?.__entity;
    return typeof e?.id === 'string' && e.id !== '' ? e.id : null;
  };
  if (attrs.tenant) return idOf(attrs.tenant);
  for (const tenants of Object.values((attrs.roles ?? {}) as Record<string, unknown[]>)) {
    const first = Array.isArray(tenants) ? tenants.map(idOf).find((t) => t !== null) : undefined;
    if (first) return first;
  }
  return null;
}

function entityId(v: unknown): string | null {
  const e = (v as { __entity?: { id?: unknown } } | null)?.__entity;
  return typeof e?.id === 'string' && e.id !== '' ? e.id : null;
}

/**
 * Whether an object belongs to a tenant the caller holds nothing in (no role, not its own application's tenant):
 * what the cross-tenant detection reads. Unknown when the object has no tenant or the caller is unknown.
 */
export function crossTenant(entity: Entity | null, objectTenant: string | null | undefined): boolean | null {
  if (!entity || !objectTenant) return null;
  const attrs = (entity.attrs ?? {}) as Record<string, unknown>;
  if (entityId(attrs.tenant) === objectTenant) return false;
  const roles = Object.values((attrs.roles ?? {}) as Record<string, unknown[]>);
  return !roles.some((tenants) => Array.isArray(tenants) && tenants.map(entityId).includes(objectTenant));
}

/** The one answer for an object that is missing or not the caller's to see. */
export function notFound(): CarapaceError {
  return new CarapaceError('ERR_NOT_FOUND', 'no such resource');
}

/** The registrar of the public API: token routes there declare how their object is loaded and authorized. */
export type ApiRoutes = RouteRegistrar<AuthorizeSpec>;

/**
 * The object-authorization step of token routes, with the actions the Cedar schema declares (a route
 * with another action is refused at startup). Per request, before the body is validated (so an
 * unauthorized caller learns nothing from validation errors), it loads the object, asks the decision
 * point, audits the decision with the policy version, and answers a denial as 404 (or 403 when the caller
 * may see the object). The handler runs only on allow, with the loaded object.
 */
export function objectAuthorization(
  app: App,
  deps: {
    decisions: DecisionPoint;
    load: EntityLoader;
    /** The loader each request's decisions read through (the entity cache); without it, `load`. */
    fresh?: () => Promise<EntityLoader>;
    audit: PolicyAuditLog;
    db: Kysely<Database>;
    actions: Set<string>;
    /** The clock and step-up window every decision judges the age of the sign-in against (one rule, in Cedar). */
    freshness: { clock: Clock; stepUpMaxAge: number };
    /** A span per authorization, child of the request's (untraced when absent). */
    tracer?: Tracer;
  },
): NonNullable<ListenerSecurity<AuthorizeSpec>['authorize']> {
  app.decorateRequest('authorized', null);
  const tracer = deps.tracer ?? untraced;
  return {
    actions: deps.actions,
    hook: (spec, catalog, route) => async (req) => {
      const span = tracer.start('authorization', req.traceparent, { 'carapace.action': catalog.action });
      // Time inside Cedar itself, on the span: the floor the rest of authorization is measured against.
      let cedarMs = 0;
      const decisions: DecisionPoint = {
        policyVersion: deps.decisions.policyVersion,
        decide: (q) => {
          const t0 = performance.now();
          const d = deps.decisions.decide(q);
          cedarMs += performance.now() - t0;
          return d;
        },
      };
      let auditMs = 0;
      const audit: PolicyAuditLog = {
        list: (q) => deps.audit.list(q),
        append: async (db, event) => {
          const t0 = performance.now();
          try {
            return await deps.audit.append(db, event);
          } finally {
            auditMs += performance.now() - t0;
          }
        },
      };
      // A read's decision record is written while its handler runs, and awaited before the reply (beforeReply).
      const defer = route.safe && route.awaitsBeforeReply;
      const settle = (written: Promise<void>) => {
        const recordSpan = tracer.start('decision-record', req.traceparent, { 'carapace.action': catalog.action });
        const t0 = performance.now();
        const settled = written.finally(() => {
          recordSpan.set('carapace.audit_ms', performance.now() - t0);
          recordSpan.end();
        });
        // Awaited by beforeReply; a reply that never comes (a dropped connection) must not leave it unhandled.
        settled.catch(() => undefined);
        deferred.set(req, settled);
      };
      try {
        const load = deps.fresh ? await deps.fresh() : deps.load;
        await authorize(req, spec, catalog, { ...deps, load, decisions, audit, settle: defer ? settle : null });
        span.set('carapace.decision', 'allow');
      } catch (err) {
        span.set('carapace.decision', 'deny');
        throw err;
      } finally {
        span.set('carapace.cedar_ms', cedarMs);
        span.set('carapace.audit_ms', auditMs);
        span.set('carapace.audit_deferred', defer);
        span.end();
      }
    },
    beforeReply: async (req) => {
      const written = deferred.get(req);
      if (!written) return;
      deferred.delete(req);
      await written;
    },
    refused: (catalog) => async (req: FastifyRequest, _reply: unknown, err: unknown) => {
      const allowed = allowedRequests.get(req);
      if (!allowed || !(err instanceof CarapaceError) || err.status < 400 || err.status >= 500) return;
      if (INPUT_ERRORS.has(err.code)) return;
      const why = typeof err.context.reason === 'string' ? `:${err.context.reason}` : '';
      await deps.audit
        .append(deps.db, {
          type: 'authz.decision',
          actor: allowed.actor,
          applicationId: allowed.applicationId,
          tenantId: allowed.tenantId,
          object: allowed.object,
          action: catalog.action,
          decision: 'deny',
          reason: untrusted(`${err.code}${why}`, 120),
          policyVersion: allowed.policyVersion,
          context: requestContext(req),
          details: { jti: allowed.jti, grant: allowed.grant, refusedBy: 'handler' },
        })
        .catch((e: unknown) => req.log.error({ err: e }, 'could not audit a refusal'));
    },
    // After validation: a caller who may follow the vehicle's jobs learns nothing about one from a 400.
    inner: (spec) =>
      spec.within
        ? async (req) => {
            const step = pending.get(req);
            if (!step) throw notFound();
            pending.delete(req);
            await step();
          }
        : undefined,
  };
}

/** Errors about the shape of a request: bad input, not a refusal of access. */
const INPUT_ERRORS = new Set([
  'ERR_VALIDATION',
  'ERR_BAD_REQUEST',
  'ERR_UNSUPPORTED_MEDIA_TYPE',
  'ERR_PAYLOAD_TOO_LARGE',
]);

/** Who was allowed what on a request, so a refusal its handler decides later is recorded with the same facts. */
const allowedRequests = new WeakMap<
  FastifyRequest,
  {
    actor: { type: 'user' | 'application'; id: string };
    applicationId: string;
    tenantId: string | null;
    object: { type: string; id: string };
    policyVersion: string;
    jti: string;
    grant: string | null;
  }
>();

/** The decision records of allowed reads still being written, awaited before the reply. */
const deferred = new WeakMap<FastifyRequest, Promise<void>>();

/** The inner-object step of requests whose outer object was allowed, run once the request is valid. */
const pending = new WeakMap<FastifyRequest, () => Promise<void>>();

async function authorize(
  req: FastifyRequest,
  spec: AuthorizeSpec,
  catalog: CatalogEntry,
  deps: {
    decisions: DecisionPoint;
    load: EntityLoader;
    audit: PolicyAuditLog;
    db: Kysely<Database>;
    freshness: { clock: Clock; stepUpMaxAge: number };
    /** Takes an allowed read's decision record in flight; null: the record is awaited here, before the handler. */
    settle: ((written: Promise<void>) => void) | null;
  },
): Promise<void> {
  const token = tokenOf(req);
  const freshness: Freshness = {
    nowSeconds: deps.freshness.clock.now().getTime() / 1000,
    stepUpMaxAge: deps.freshness.stepUpMaxAge,
  };
  const principal = await principalOf(req, deps.db);
  const fallback: Principal = principal ?? { kind: 'application', clientId: token.clientId };
  // Load the same way whether or not the principal is known, so a refusal costs the same.
  const [principalEntity, loaded] = await Promise.all([
    principal ? deps.load.principal(principal) : Promise.resolve(null),
    spec.resource(req, deps.load, fallback),
  ]);
  const command = spec.command ? spec.command(req) : null;
  const own = await deps.load.callerContext(fallback, loaded.vehicleId, command);
  const extra = spec.extraContext ? await spec.extraContext(req, deps.load) : {};
  const ask = (action: string, steppedUp = false): Decision => {
    if (!principalEntity)
      return {
        decision: 'deny',
        reasons: [],
        errors: ['unknown principal'],
        policyVersion: deps.decisions.policyVersion,
      };
    return deps.decisions.decide(
      cedarRequest({
        principal: principalEntity,
        action,
        resource: loaded,
        // What a sign-in with a second factor just now would be allowed: for a step-up challenge only.
        token: steppedUp ? { ...token, acr: ACR.mfa, authTime: freshness.nowSeconds } : token,
        caller: own,
        command,
        extra,
        freshness,
      }),
    );
  };
  const decision = ask(catalog.action);
  const allowed = decision.decision === 'allow' && loaded.object !== null;
  // A denial always evaluates visibility too, so a missing object and a hidden one take the same path.
  const visible =
    !allowed && spec.visibleWith ? ask(spec.visibleWith).decision === 'allow' && loaded.object !== null : false;
  const record = (action: string, resource: LoadedResource, d: Decision, ok: boolean) =>
    deps.audit.append(deps.db, {
      type: 'authz.decision',
      actor:
        principal?.kind === 'user'
          ? { type: 'user', id: principal.userId }
          : { type: 'application', id: token.clientId },
      applicationId: token.clientId,
      tenantId: resource.tenantId ?? loaded.tenantId ?? homeTenant(principalEntity),
      object: { type: resource.uid.type, id: untrusted(resource.uid.id, 64) },
      action,
      decision: ok ? 'allow' : 'deny',
      reason: ok
        ? d.reasons.join(',')
        : resource.object === null
          ? 'not_found'
          : d.errors.length > 0
            ? 'evaluation_error'
            : 'no_permit',
      policyVersion: d.policyVersion,
      context: requestContext(req),
      details: {
        jti: token.jti,
        // The refresh-token family and the cross-tenant fact, for the detections (token reuse, BOLA probing).
        grant: token.grant,
        crossTenant: crossTenant(principalEntity, resource.tenantId ?? loaded.tenantId),
        ...(!ok && d.reasons.length > 0 ? { forbiddenBy: d.reasons.slice(0, 5) } : {}),
        ...(d.errors.length > 0 ? { errors: d.errors.slice(0, 3).map((e) => untrusted(e, 200)) } : {}),
      },
    });
  const written = record(catalog.action, loaded, decision, allowed);
  if (allowed && deps.settle) deps.settle(written);
  else await written;
  if (!allowed) {
    const reason = decision.reasons.map((id) => spec.denialReasons?.[id]).find((r) => r !== undefined);
    const error = reason ? undefined : decision.reasons.map((id) => spec.denialErrors?.[id]).find((e) => e);
    // A challenge ("step up") only where stepping up would help: someone no policy permits gets a plain refusal.
    if (visible && error && ask(catalog.action, true).decision === 'allow') throw error();
    if (visible)
      throw new CarapaceError('ERR_FORBIDDEN', 'you may see this object but not do this to it', {
        action: catalog.action,
        ...(reason ? { reason } : {}),
      });
    throw notFound();
  }
  if (spec.within && principalEntity)
    pending.set(req, async () => {
      const within = spec.within as NonNullable<AuthorizeSpec['within']>;
      const inner = await within.resource(req, loaded, principal as Principal, deps.load);
      const d = deps.decisions.decide(
        cedarRequest({
          principal: principalEntity,
          action: within.action,
          resource: inner.resource,
          token,
          caller: own,
          extra: { ...extra, ...inner.context },
          freshness,
        }),
      );
      const ok = d.decision === 'allow' && inner.resource.object !== null;
      await record(within.action, inner.resource, d, ok);
      if (!ok) {
        allowedRequests.delete(req); // this denial is recorded already
        throw notFound();
      }
      req.authorized = {
        object: inner.resource.object,
        principal: principal as Principal,
        decision: d,
        resource: inner.resource,
        freshness,
      };
    });
  allowedRequests.set(req, {
    actor:
      principal?.kind === 'user' ? { type: 'user', id: principal.userId } : { type: 'application', id: token.clientId },
    applicationId: token.clientId,
    tenantId: loaded.tenantId ?? homeTenant(principalEntity),
    object: { type: loaded.uid.type, id: untrusted(loaded.uid.id, 64) },
    policyVersion: decision.policyVersion,
    jti: token.jti,
    grant: token.grant,
  });
  req.authorized = { object: loaded.object, principal: principal as Principal, decision, resource: loaded, freshness };
}

/**
 * Decides one action on many objects for the caller of an already authorized request: how list routes
 * filter what they return, through the same policies and the same request builder as single-object routes.
 * One batch: the principal once, the caller's own records for all the objects in one query, then one
 * in-memory decision per object.
 */
export async function decideEach(
  req: FastifyRequest,
  deps: { decisions: DecisionPoint; load: EntityLoader },
  action: string,
  resources: LoadedResource[],
  /** Request facts the same for every resource (when the caller's relationship with their vehicle began). */
  extra: Record<string, CedarValueJson> = {},
): Promise<boolean[]> {
  const { principal, freshness } = authorizedOf(req);
  const token = tokenOf(req);
  const entity = await deps.load.principal(principal);
  if (!entity) return resources.map(() => false);
  const vehicleIds = [...new Set(resources.flatMap((r) => (r.vehicleId ? [r.vehicleId] : [])))];
  const callers = await deps.load.callerContexts(principal, vehicleIds);
  const none = { context: {}, entities: [] };
  return resources.map((r) => {
    if (r.object === null) return false;
    const caller = (r.vehicleId ? callers.get(r.vehicleId) : undefined) ?? none;
    return (
      deps.decisions.decide(cedarRequest({ principal: entity, action, resource: r, token, caller, extra, freshness }))
        .decision === 'allow'
    );
  });
}
