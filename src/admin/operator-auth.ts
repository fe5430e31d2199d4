import type { TLSSocket } from 'node:tls';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App, CatalogedRoute } from '../http/index.js';
import type { RequestHook } from '../http/index.js';
import { auditIdentity, type Refusal, refuseRequest, requestContext, sendProblem } from '../http/index.js';
import type { AdminAuditLog } from './audit-events.js';
import { certificateFacts, findCertificate, type Pki } from '../pki/index.js';
import { findUser } from '../identity/index.js';
import {
  type AdminAuthorization,
  type AdminFacts,
  type Approvals,
  cookieOf,
  type Operator,
  type OperatorAuditLog,
  type OperatorDirectory,
  type OperatorSessions,
  SESSION_COOKIE,
} from '../operators/index.js';

export { operatorOf, type Operator } from '../operators/index.js';

/** What the admin plane needs from the operators module to authenticate and authorize. */
export interface OperatorServices {
  directory: Pick<OperatorDirectory, 'find'>;
  sessions: Pick<OperatorSessions, 'resolve' | 'elevation'>;
  approvals: Pick<Approvals, 'consume'>;
  authorization: Pick<AdminAuthorization, 'decide' | 'refusalOf'>;
  audit: OperatorAuditLog;
}

/** The header the console sends on every request: a cookie alone never authorizes (CSRF defence). */
const CONSOLE_HEADER = 'x-carapace-console';
/** The header naming the approved request a fleet-wide action consumes. */
const APPROVAL_HEADER = 'x-carapace-approval';

type Classified = { serial: string; notAfter: number } | Refusal;

async function classify(socket: TLSSocket, pki: Pki): Promise<Classified | null> {
  const cert = socket.getPeerX509Certificate();
  if (!cert) return null;
  const id = auditIdentity(cert);
  const untrusted = (reason: string): Refusal => ({
    code: 'ERR_CLIENT_CERT_UNTRUSTED',
    reason,
    detail: 'the client certificate is not an operator certificate',
    ...id,
  });
  if (!socket.authorized)
    return untrusted(
      `untrusted_${String(socket.authorizationError)
        .toLowerCase()
        .replace(/[^a-z0-9_]/g, '_')
        .slice(0, 60)}`,
    );
  let facts;
  try {
    const root = pki.ctx.authorities.root.node;
    if (!cert.checkIssued(root) || !cert.verify(root.publicKey)) return untrusted('wrong_issuer');
    facts = certificateFacts(cert);
  } catch {
    return untrusted('unreadable_certificate');
  }
  const row = await findCertificate(pki.ctx.db, facts.serial);
  if (!row || row.profile !== 'operator' || row.thumbprint !== facts.thumbprint)
    return untrusted('unknown_certificate');
  return { serial: facts.serial, notAfter: facts.notAfter.getTime() };
}

const refusal = (code: Refusal['code'], reason: string, detail: string, serial: string | null = null): Refusal => ({
  code,
  reason,
  detail,
  serial,
  thumbprint: null,
});

/** The operator bound to a certificate, checked on every request: expiry, revocation, binding, disabled. */
async function certificateOperator(
  result: { serial: string; notAfter: number },
  deps: { pki: Pki; operators: OperatorServices },
): Promise<Operator | Refusal> {
  const { clock, cache } = deps.pki.ctx;
  if (clock.now().getTime() >= result.notAfter)
    return refusal(
      'ERR_CLIENT_CERT_EXPIRED',
      'certificate_expired',
      'the operator certificate has expired',
      result.serial,
    );
  if (cache.certificate(result.serial).state === 'revoked')
    return refusal(
      'ERR_CLIENT_CERT_REVOKED',
      'certificate_revoked',
      'the operator certificate has been revoked',
      result.serial,
    );
  const bound = await deps.operators.directory.find('certificate_serial', result.serial);
  if (!bound || bound.disabled)
    return refusal(
      'ERR_CLIENT_CERT_UNTRUSTED',
      bound ? 'operator_disabled' : 'certificate_bound_to_no_role',
      'the operator certificate is bound to no enabled operator role',
      result.serial,
    );
  const { id, name, roles } = bound;
  return { id, name, kind: 'certificate', roles, serial: result.serial, notAfter: result.notAfter, sessionHash: null };
}

/** The person of a console session cookie; the console header is required with it. */
async function sessionOperator(
  req: FastifyRequest,
  cookie: string,
  operators: OperatorServices,
  db: Pki['ctx']['db'],
): Promise<Operator | Refusal> {
  if (req.headers[CONSOLE_HEADER] !== '1')
    return refusal('ERR_CSRF', 'console_header_missing', `a console session needs the header X-Carapace-Console: 1`);
  const session = await operators.sessions.resolve(cookie);
  if (typeof session === 'string')
    return refusal(
      'ERR_OPERATOR_SIGN_IN_REQUIRED',
      session,
      'the console session is not valid any more: sign in again',
    );
  const op = await operators.directory.find('id', session.operator_id);
  if (!op || op.disabled || op.kind !== 'person' || !op.userId)
    return refusal('ERR_OPERATOR_SIGN_IN_REQUIRED', 'operator_disabled', 'this operator is disabled');
  // The person's account still decides: a disabled account, a password change, an MFA reset or "end my sessions"
  // ends the console session as it ends every other session of theirs.
  const account = await findUser(db, op.userId);
  if (account?.status !== 'active' || account.credentialEpoch !== session.credential_epoch)
    return refusal('ERR_OPERATOR_SIGN_IN_REQUIRED', 'credentials_changed', 'your credentials changed: sign in again');
  return {
    id: op.id,
    name: op.name,
    kind: 'person',
    roles: op.roles,
    serial: null,
    notAfter: Date.parse(session.expires_at),
    sessionHash: session.id_hash,
  };
}

/**
 * The operator step of admin-plane routes (and of admin requests that match no route): an operator certificate
 * (classified once per connection; expiry, revocation and its role binding checked on every request), else a
 * console session cookie with the console header. Refusals are audited.
 */
export function operatorAuthentication(
  app: App,
  deps: { pki: Pki; audit: AdminAuditLog; operators: OperatorServices },
): RequestHook {
  const classified = new WeakMap<TLSSocket, Promise<Classified | null>>();
  const { db } = deps.pki.ctx;
  app.decorateRequest('operator', null);
  return async (req, reply) => {
    const socket = req.raw.socket as TLSSocket;
    let pending = classified.get(socket);
    if (!pending) {
      classified.set(socket, (pending = classify(socket, deps.pki)));
      pending.catch(() => classified.delete(socket));
    }
    const cert = await pending;
    const cookie = cookieOf(req, SESSION_COOKIE);
    const result: Operator | Refusal =
      cert === null
        ? cookie
          ? await sessionOperator(req, cookie, deps.operators, db)
          : refusal(
              'ERR_CLIENT_CERT_REQUIRED',
              'no_client_certificate',
              'the admin plane requires an operator certificate or a console sign-in',
            )
        : 'code' in cert
          ? cert
          : await certificateOperator(cert, deps);
    if ('code' in result) {
      return refuseRequest(
        req,
        reply,
        { audit: deps.audit, db },
        { type: 'admin.request.refused', actor: { type: 'operator', id: null }, refusal: result },
      );
    }
    req.operator = result;
  };
}

/** What the body of a request tells the policy beyond the action (the state a device is moved to). */
function targetStatusOf(req: FastifyRequest): string | undefined {
  const body = req.body as { status?: unknown } | null | undefined;
  return typeof body?.status === 'string' ? body.status.slice(0, 40) : undefined;
}

const REFUSAL_DETAIL = {
  ERR_ELEVATION_REQUIRED: 'this action needs a just-in-time elevation: POST /admin/v1/elevations with a reason',
  ERR_APPROVAL_REQUIRED:
    "this fleet-wide action needs a second operator's approval: POST /admin/v1/approvals, have another " +
    'operator approve it, then send its id in X-Carapace-Approval',
  ERR_FORBIDDEN: 'your operator role does not allow this action',
} as const;

type Db = Pki['ctx']['db'];

/** The policy's facts about this request: roles, elevation (a person's, or a certificate's standing one), body. */
async function factsOf(op: Operator, req: FastifyRequest, deps: OperatorServices): Promise<AdminFacts> {
  const elevated =
    op.kind === 'certificate' || (op.sessionHash !== null && (await deps.sessions.elevation(op.sessionHash)) !== null);
  const targetStatus = targetStatusOf(req);
  return { kind: op.kind, roles: op.roles, elevated, approved: false, ...(targetStatus ? { targetStatus } : {}) };
}

/** The decision, with the approval named in the request consumed when (and only when) it is what is missing. */
async function decideWithApproval(
  op: Operator,
  action: string,
  facts: AdminFacts,
  req: FastifyRequest,
  deps: OperatorServices,
) {
  const decision = deps.authorization.decide(op.id, action, facts);
  const approvalId = req.headers[APPROVAL_HEADER];
  if (decision.decision === 'allow' || typeof approvalId !== 'string' || !/^[0-9a-f-]{36}$/.test(approvalId))
    return { decision, approvalId: null };
  const approved = deps.authorization.decide(op.id, action, { ...facts, approved: true });
  if (approved.decision === 'allow' && (await deps.approvals.consume(approvalId, action, op.name)))
    return { decision: approved, approvalId };
  return { decision, approvalId: null };
}

async function decideAdmin(req: FastifyRequest, reply: FastifyReply, deps: OperatorServices, db: Db) {
  const op = req.operator;
  const action = req.routeOptions.config.catalog?.action;
  if (!op || !action) return undefined;
  const facts = await factsOf(op, req, deps);
  const { decision, approvalId } = await decideWithApproval(op, action, facts, req, deps);
  const event = {
    actor: { type: 'operator' as const, id: op.name },
    object: { type: 'route', id: req.routeOptions.url ?? null },
    action,
    policyVersion: decision.policyVersion,
    context: requestContext(req),
  };
  if (decision.decision === 'allow') {
    // What a person's elevation or a second operator's approval opened is evidence of its own.
    const opened =
      approvalId !== null ||
      (op.kind === 'person' &&
        facts.elevated &&
        deps.authorization.decide(op.id, action, { ...facts, elevated: false }).decision === 'deny');
    if (opened)
      await deps.audit.append(db, {
        type: 'operators.action.allowed',
        ...event,
        decision: 'allow',
        reason: approvalId ? 'approved' : 'elevated',
        details: { kind: op.kind, roles: op.roles, approvalId, policies: decision.reasons },
      });
    return undefined;
  }
  const code = deps.authorization.refusalOf(op.id, action, facts);
  await deps.audit.append(db, {
    type: 'operators.action.denied',
    ...event,
    decision: 'deny',
    reason: code.slice(4).toLowerCase(),
    details: { kind: op.kind, roles: op.roles, elevated: facts.elevated, policies: decision.reasons },
  });
  return sendProblem(reply, code, REFUSAL_DETAIL[code], { action });
}

/**
 * Authorizes every authenticated admin-plane request against policies/admin.cedar: the route's catalog action, the
 * operator's roles, its elevation and a consumed approval. It runs before validation (the body is parsed, so the
 * policy may judge the state a device is moved to); a denial is audited and answered 403 with the problem type
 * that tells the console what is missing (elevation, approval, or the role).
 */
export function operatorAuthorization(app: App, deps: OperatorServices & { db: Db }): void {
  app.addHook('preValidation', async (req, reply) => decideAdmin(req, reply, deps, deps.db));
}

/**
 * Refuses to start when an operator route's action is not an admin action of the Cedar schema: it would be denied to
 * everyone (deny by default), so it is a mistake to find at start, not in production.
 */
export function requireAdminActions(app: App, routes: readonly CatalogedRoute[], actions: ReadonlySet<string>): void {
  app.addHook('onReady', async () => {
    const unknown = routes.filter((r) => r.facts.auth.kind === 'operator' && !actions.has(r.entry.action));
    if (unknown.length > 0)
      throw new Error(
        `admin routes with actions policies/schema.cedarschema does not declare for operators: ${unknown
          .map((r) => `${r.method} ${r.url} (${r.entry.action})`)
          .join(', ')}`,
      );
  });
}
