import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RouteRegistrar } from '../http/index.js';
import type { CatalogEntry } from '../http/index.js';
import { requestContext } from '../http/index.js';
import { CarapaceError } from '../platform/index.js';
import type { CertificateBundle, CommandVerificationKey, Pki } from '../pki/index.js';
import { findCertificate, findDevice, MAX_CSR_BYTES } from '../pki/index.js';
import type { Claims } from '../relationships/index.js';
import { EnrollmentResultSchema } from '../wire/index.js';
import { deviceOf } from './device-auth.js';

const PEM_CHAIN = 'application/pem-certificate-chain';
const UUID = { format: 'uuid' } as const;

const DeviceIdParams = Type.Object({ deviceId: Type.String({ ...UUID }) }, { additionalProperties: false });

/** A CSR as closed JSON, or as a raw application/pkcs10 body in PEM or DER form (checked by the parser). */
const CsrBody = {
  content: {
    'application/json': {
      schema: Type.Object(
        {
          csr: Type.String({ minLength: 1, maxLength: MAX_CSR_BYTES }),
          deviceId: Type.Optional(Type.String({ ...UUID })),
        },
        { additionalProperties: false },
      ),
    },
    'application/pkcs10': { schema: {} },
  },
};

/** The enrollment result is a wire contract: the SDK checks it with the same schema (src/wire/enrollment.ts). */
const Bundle = EnrollmentResultSchema;
/** The JSON bundle, or the PEM chain (leaf, then fleet CA) for a client that asks for one. */
const BundleResponse = {
  content: { 'application/json': { schema: Bundle }, [PEM_CHAIN]: { schema: Type.String() } },
};

const DeviceSelf = Type.Object(
  {
    deviceId: Type.String(),
    vehicleId: Type.String(),
    status: Type.String(),
    certificate: Type.Object({
      serial: Type.String(),
      thumbprint: Type.String(),
      notBefore: Type.String(),
      notAfter: Type.String(),
      overlapUntil: Type.Union([Type.String(), Type.Null()]),
    }),
  },
  { additionalProperties: false },
);

const entry = (
  e: Omit<CatalogEntry, 'owner' | 'classification' | 'scopes' | 'status'> & Partial<CatalogEntry>,
): CatalogEntry => ({ owner: 'pki', classification: 'confidential', scopes: [], status: 'stable', ...e });

/** Reads the CSR and optional device id from either body form. */
function csrFrom(req: FastifyRequest): { csr: string | Uint8Array; deviceId: string | null } {
  const body = req.body;
  if (Buffer.isBuffer(body)) return { csr: new Uint8Array(body), deviceId: null };
  if (body && typeof body === 'object' && 'csr' in body && typeof body.csr === 'string') {
    return { csr: body.csr, deviceId: 'deviceId' in body && typeof body.deviceId === 'string' ? body.deviceId : null };
  }
  throw new CarapaceError(
    'ERR_PKI_CSR_INVALID',
    'send the CSR as application/pkcs10 (PEM or DER) or as JSON {"csr": "<PEM>"}',
    { reason: 'missing' },
  );
}

/** The published command-verification keys (the commands module's key set, passed in at construction). */
export interface CommandKeySet {
  published(): Promise<CommandVerificationKey[]>;
}

/** Answers with JSON, or with a PEM chain (leaf, then fleet CA) when the client asks for one. */
async function sendBundle(
  req: FastifyRequest,
  reply: FastifyReply,
  issued: CertificateBundle,
  commandKeys: CommandKeySet,
) {
  // The keys vehicles pin to verify command envelopes travel with every certificate they receive.
  const bundle = { ...issued, commandVerificationKeys: { keys: await commandKeys.published() } };
  reply.code(201);
  if (req.headers.accept?.includes(PEM_CHAIN)) {
    return reply.type(PEM_CHAIN).send(`${bundle.certificate.trim()}\n${bundle.chain[0]?.trim() ?? ''}\n`);
  }
  return reply.send(bundle);
}

/** The gateway's device routes: enrollment, rotation and the device's view of itself. */
export function registerGatewayRoutes(
  routes: RouteRegistrar,
  deps: { pki: Pki; claims: Claims; commandKeys: CommandKeySet },
): void {
  // Closed content types: JSON and PKCS#10 only, so anything else is a clear 415.
  routes.parsers.removeContentTypeParser('text/plain');
  routes.parsers.addContentTypeParser(
    'application/pkcs10',
    { parseAs: 'buffer', bodyLimit: MAX_CSR_BYTES },
    (_req, body, done) => done(null, body),
  );

  routes.post(
    '/v1/enrollments',
    {
      auth: { kind: 'factory-device' },
      catalog: entry({
        purpose: 'Enroll a provisioned unit: factory certificate + CSR -> operational certificate.',
        callers: ['factory-device'],
        action: 'device:enroll',
        safetyImpact: 'high',
      }),
      schema: { body: CsrBody, response: { 201: BundleResponse } },
    },
    async (req, reply) => {
      const device = deviceOf(req, 'factory');
      const { csr, deviceId } = csrFrom(req);
      const bundle = await deps.pki.enroll({
        presented: device,
        csr,
        requestedDeviceId: deviceId,
        context: requestContext(req),
      });
      return sendBundle(req, reply, bundle, deps.commandKeys);
    },
  );

  routes.post(
    '/v1/devices/:deviceId/certificates',
    {
      auth: { kind: 'device' },
      catalog: entry({
        purpose: 'Rotate: renew the operational certificate with the current one before it expires.',
        callers: ['device'],
        action: 'device:rotate',
        safetyImpact: 'high',
      }),
      schema: { params: DeviceIdParams, body: CsrBody, response: { 201: BundleResponse } },
    },
    async (req, reply) => {
      const device = deviceOf(req, 'operational');
      const { csr } = csrFrom(req);
      const bundle = await deps.pki.rotate({ presented: device, csr, context: requestContext(req) });
      return sendBundle(req, reply, bundle, deps.commandKeys);
    },
  );

  routes.get(
    '/v1/devices/:deviceId',
    {
      auth: { kind: 'device' },
      catalog: entry({
        purpose: 'The device reads its own identity, vehicle binding and certificate status.',
        callers: ['device'],
        action: 'device:read_self',
        safetyImpact: 'none',
      }),
      schema: { params: DeviceIdParams, response: { 200: DeviceSelf } },
    },
    async (req) => {
      const device = deviceOf(req, 'operational');
      const { db } = deps.pki.ctx;
      const [row, cert] = await Promise.all([findDevice(db, device.deviceId), findCertificate(db, device.serial)]);
      // The gateway authenticated this very device and certificate a moment ago; gone now means deleted under us.
      if (!row || !cert) throw new CarapaceError('ERR_NOT_FOUND', 'no such device');
      return {
        deviceId: row.id,
        vehicleId: row.vehicle_id,
        status: row.status,
        certificate: {
          serial: cert.serial,
          thumbprint: cert.thumbprint,
          notBefore: cert.not_before,
          notAfter: cert.not_after,
          overlapUntil: cert.overlap_until,
        },
      };
    },
  );

  routes.post(
    '/v1/device/claim-code',
    {
      auth: { kind: 'device' },
      catalog: entry({
        owner: 'relationships',
        purpose:
          'The vehicle asks for a fresh single-use claim code to show on its screen; earlier codes stop working.',
        callers: ['device'],
        action: 'vehicle:issue_claim_code',
        safetyImpact: 'high',
      }),
      schema: {
        response: {
          201: Type.Object({ code: Type.String(), expiresAt: Type.String() }, { additionalProperties: false }),
        },
      },
    },
    async (req, reply) => {
      const device = deviceOf(req, 'operational');
      return reply.code(201).send(await deps.claims.issueCode(device.vehicleId, device.deviceId));
    },
  );
}
