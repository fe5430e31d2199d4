import { Type } from '@sinclair/typebox';
import type { AuditLog } from '../audit/index.js';
import { type Directory, findApplication, findUser, findWorkload } from '../identity/index.js';
import type { Auth } from '../auth/index.js';
import type { RouteRegistrar } from '../http/index.js';
import type { CatalogEntry } from '../http/index.js';
import { requestContext } from '../http/index.js';
import { CarapaceError } from '../platform/index.js';
import { certificatesOf, getDevice, parseRevocationReason, type Pki, REVOCATION_REASONS } from '../pki/index.js';
import { operatorOf } from './operator-auth.js';

const closed = { additionalProperties: false } as const;
const DeviceParams = Type.Object({ deviceId: Type.String({ format: 'uuid' }) }, closed);
const Reason = Type.String({ minLength: 1, maxLength: 500 });

const entry = (e: Pick<CatalogEntry, 'purpose' | 'action' | 'safetyImpact'> & Partial<CatalogEntry>): CatalogEntry => ({
  owner: 'pki',
  callers: ['operator'],
  classification: 'restricted',
  scopes: [],
  status: 'stable',
  ...e,
});

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
/** An audit event as the admin plane serves it (its canonical JSON is the event's Merkle leaf). */
export const AuditEventView = Type.Object(
  {
    seq: Type.Number(),
    id: Type.String(),
    occurredAt: Type.String(),
    type: Type.String(),
    actor: Type.Object({ type: Type.String(), id: Nullable(Type.String()) }),
    applicationId: Nullable(Type.String()),
    tenantId: Nullable(Type.String()),
    object: Type.Union([Type.Object({ type: Type.String(), id: Nullable(Type.String()) }), Type.Null()]),
    action: Type.String(),
    decision: Type.String(),
    reason: Nullable(Type.String()),
    policyVersion: Nullable(Type.String()),
    context: Type.Object({
      requestId: Nullable(Type.String()),
      traceId: Nullable(Type.String()),
      sourceIp: Nullable(Type.String()),
    }),
    // Details differ per event type; the audit writer has already refused anything that looks like a secret.
    details: Type.Record(
      Type.String(),
      Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null(), Type.Array(Type.String())]),
    ),
  },
  closed,
);

const CertificateView = Type.Object(
  {
    serial: Type.String(),
    profile: Type.String(),
    status: Type.String(),
    thumbprint: Type.String(),
    notBefore: Type.String(),
    notAfter: Type.String(),
    issuedAt: Type.String(),
    predecessorSerial: Type.Union([Type.String(), Type.Null()]),
    overlapUntil: Type.Union([Type.String(), Type.Null()]),
    revokedAt: Type.Union([Type.String(), Type.Null()]),
    revocationReason: Type.Union([Type.String(), Type.Null()]),
  },
  closed,
);
const DeviceView = Type.Object(
  {
    id: Type.String(),
    vehicleId: Type.String(),
    tcuSerial: Type.String(),
    status: Type.String(),
    statusReason: Type.Union([Type.String(), Type.Null()]),
    enrolledAt: Type.Union([Type.String(), Type.Null()]),
    replaces: Type.Union([Type.String(), Type.Null()]),
    replacedBy: Type.Union([Type.String(), Type.Null()]),
    certificates: Type.Array(CertificateView),
  },
  closed,
);

async function deviceView(pki: Pki, deviceId: string) {
  const d = await getDevice(pki.ctx.db, deviceId);
  const certs = await certificatesOf(pki.ctx.db, deviceId);
  return {
    id: d.id,
    vehicleId: d.vehicle_id,
    tcuSerial: d.factory_serial,
    status: d.status,
    statusReason: d.status_reason,
    enrolledAt: d.enrolled_at,
    replaces: d.replaces,
    replacedBy: d.replaced_by,
    certificates: certs.map((c) => ({
      serial: c.serial,
      profile: c.profile,
      status: c.status,
      thumbprint: c.thumbprint,
      notBefore: c.not_before,
      notAfter: c.not_after,
      issuedAt: c.issued_at,
      predecessorSerial: c.predecessor_serial,
      overlapUntil: c.overlap_until,
      revokedAt: c.revoked_at,
      revocationReason: c.revocation_reason,
    })),
  };
}

/** The admin plane's PKI and audit routes. */
export function registerAdminRoutes(
  routes: RouteRegistrar,
  deps: { pki: Pki; audit: AuditLog; directory: Directory; tokens: Pick<Auth, 'revokeClientTokens'> },
): void {
  const { pki } = deps;

  routes.post(
    '/admin/v1/revocations',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'Revoke a certificate by serial, or a device and all its certificates.',
        action: 'pki:revoke',
        safetyImpact: 'high',
      }),
      schema: {
        body: Type.Object(
          {
            serial: Type.Optional(Type.String({ pattern: '^[0-9A-Fa-f:]{1,60}$' })),
            deviceId: Type.Optional(Type.String({ format: 'uuid' })),
            reason: Type.Union(REVOCATION_REASONS.map((r) => Type.Literal(r))),
          },
          closed,
        ),
        response: {
          201: Type.Object(
            { revokedSerials: Type.Array(Type.String()), deviceId: Type.Union([Type.String(), Type.Null()]) },
            closed,
          ),
        },
      },
    },
    async (req, reply) => {
      const operator = operatorOf(req);
      const { serial, deviceId } = req.body;
      if ((serial === undefined) === (deviceId === undefined)) {
        throw new CarapaceError('ERR_PKI_REVOCATION_INVALID', 'give exactly one of "serial" or "deviceId"', {
          field: 'body',
        });
      }
      const reason = parseRevocationReason(req.body.reason);
      const actor = { type: 'operator' as const, id: operator.name };
      const result =
        serial !== undefined
          ? await pki.revokeCertificate({ serial, reason, actor, context: requestContext(req) })
          : await pki
              .revokeDevice({ deviceId: deviceId as string, reason, actor, context: requestContext(req) })
              .then((r) => ({ revokedSerials: r.revokedSerials, deviceId: r.device.id }));
      return reply.code(201).send(result);
    },
  );

  routes.get(
    '/admin/v1/devices/:deviceId',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'Read a device, its lifecycle state and its certificates.',
        action: 'pki:read_device',
        safetyImpact: 'none',
      }),
      schema: { params: DeviceParams, response: { 200: DeviceView } },
    },
    async (req) => deviceView(pki, req.params.deviceId),
  );

  routes.post(
    '/admin/v1/devices/:deviceId/status',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'Move a device through its lifecycle: quarantine, release, revoke, decommission.',
        action: 'pki:transition_device',
        safetyImpact: 'high',
      }),
      schema: {
        params: DeviceParams,
        body: Type.Object(
          {
            status: Type.Union(['active', 'quarantined', 'revoked', 'decommissioned'].map((s) => Type.Literal(s))),
            reason: Reason,
          },
          closed,
        ),
        response: { 200: DeviceView },
      },
    },
    async (req) => {
      const operator = operatorOf(req);
      await pki.changeDeviceStatus({
        deviceId: req.params.deviceId,
        to: req.body.status,
        reason: req.body.reason,
        actor: { type: 'operator', id: operator.name },
        context: requestContext(req),
      });
      return deviceView(pki, req.params.deviceId);
    },
  );

  routes.post(
    '/admin/v1/devices/:deviceId/replacement',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'Replace a unit: decommission it and provision a new unit for the same vehicle.',
        action: 'pki:replace_device',
        safetyImpact: 'high',
      }),
      schema: {
        params: DeviceParams,
        body: Type.Object(
          { tcuSerial: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' }), reason: Reason },
          closed,
        ),
        response: { 201: Type.Object({ old: DeviceView, replacement: DeviceView }, closed) },
      },
    },
    async (req, reply) => {
      const operator = operatorOf(req);
      const { old, replacement } = await pki.replaceDevice({
        deviceId: req.params.deviceId,
        newTcuSerial: req.body.tcuSerial,
        reason: req.body.reason,
        actor: { type: 'operator', id: operator.name },
        context: requestContext(req),
      });
      return reply
        .code(201)
        .send({ old: await deviceView(pki, old.id), replacement: await deviceView(pki, replacement.id) });
    },
  );

  routes.post(
    '/admin/v1/users/:userId/mfa-reset',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: "Reset a user's second factor (lost authenticator): every grant, session and token of theirs ends.",
        action: 'identity:reset_mfa',
        safetyImpact: 'high',
      }),
      schema: {
        params: Type.Object({ userId: Type.String({ format: 'uuid' }) }, closed),
        body: Type.Object({ reason: Reason }, closed),
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      const operator = operatorOf(req);
      const exists = await findUser(pki.ctx.db, req.params.userId);
      if (!exists) throw new CarapaceError('ERR_NOT_FOUND', 'no such user');
      await deps.directory.resetMfa({ type: 'operator', id: operator.name }, req.params.userId, null);
      return reply.code(204).send(null);
    },
  );

  routes.post(
    '/admin/v1/clients/:clientId/token-revocation',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'Revoke every access token issued to an application or workload so far, on every node at once.',
        action: 'auth:revoke_client_tokens',
        safetyImpact: 'high',
      }),
      schema: {
        params: Type.Object({ clientId: Type.String({ pattern: '^[A-Za-z0-9._:-]{1,128}$' }) }, closed),
        body: Type.Object({ reason: Reason }, closed),
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      const operator = operatorOf(req);
      const { clientId } = req.params;
      const known = (await findApplication(pki.ctx.db, clientId)) ?? (await findWorkload(pki.ctx.db, clientId));
      if (!known) throw new CarapaceError('ERR_NOT_FOUND', 'no such client');
      await deps.tokens.revokeClientTokens({
        clientId,
        actor: { type: 'operator', id: operator.name },
        reason: req.body.reason,
      });
      return reply.code(204).send(null);
    },
  );

  routes.get(
    '/admin/v1/audit-events',
    {
      auth: { kind: 'operator' },
      catalog: entry({
        purpose: 'List audit events for investigation, newest first.',
        action: 'audit:read',
        safetyImpact: 'none',
      }),
      schema: {
        querystring: Type.Object(
          {
            type: Type.Optional(Type.String({ maxLength: 100 })),
            typePrefix: Type.Optional(Type.String({ maxLength: 100 })),
            decision: Type.Optional(Type.Union([Type.Literal('allow'), Type.Literal('deny'), Type.Literal('info')])),
            objectId: Type.Optional(Type.String({ maxLength: 200 })),
            actorId: Type.Optional(Type.String({ maxLength: 200 })),
            requestId: Type.Optional(Type.String({ maxLength: 100 })),
            afterSeq: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
            limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
          },
          closed,
        ),
        response: { 200: Type.Object({ events: Type.Array(AuditEventView) }, closed) },
      },
    },
    async (req) => {
      const q = req.query;
      const events = await deps.audit.list({
        ...q,
        afterSeq: q.afterSeq === undefined ? undefined : Number(q.afterSeq),
        limit: q.limit === undefined ? undefined : Number(q.limit),
      });
      return { events };
    },
  );
}
