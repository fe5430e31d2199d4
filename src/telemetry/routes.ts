import type { TLSSocket } from 'node:tls';
import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { TelemetryAuditLog } from './audit-events.js';
import { DEVICE_CLIENT_PREFIX, tokenOf } from '../auth/index.js';
import { deviceOf } from '../gateway/index.js';
import type { RouteRegistrar } from '../http/index.js';
import type { CatalogEntry } from '../http/index.js';
import { requestContext } from '../http/index.js';
import { CarapaceError, isCarapaceError } from '../platform/index.js';
import type { Pki } from '../pki/index.js';
import type { Database } from '../storage/index.js';
import { TelemetryReceiptSchema } from '../wire/index.js';
import { CBOR, decodeCborBatch } from './cbor-batch.js';
import type { Telemetry } from './service.js';

const closed = { additionalProperties: false } as const;

/** Messages are checked one by one in the handler, so one bad message gets its own verdict, not a 400 for all. */
const Batch = Type.Object({ messages: Type.Array(Type.Unknown(), { minItems: 1 }) }, closed);
/** JSON, or CBOR (checked by its decoder in the handler). */
const BatchBody = { content: { 'application/json': { schema: Batch }, [CBOR]: { schema: {} } } };

/** The receipt is a wire contract: the SDK checks it with the same schema (src/wire/telemetry.ts). */
const Receipt = TelemetryReceiptSchema;

const entry = (e: Pick<CatalogEntry, 'purpose' | 'action'>): CatalogEntry => ({
  owner: 'telemetry',
  callers: ['device'],
  classification: 'confidential',
  scopes: ['telemetry:write'],
  safetyImpact: 'low',
  status: 'beta',
  ...e,
});

/**
 * The ingestion routes of the vehicle gateway: live telemetry, and the flagged backfill path for messages
 * recorded while offline (wider age window). Both need the operational certificate and a telemetry token
 * bound to it; each has its own body limit and shares the telemetry worker budget, apart from the command path.
 */
export function registerTelemetryRoutes(
  routes: RouteRegistrar,
  deps: { telemetry: Telemetry; pki: Pick<Pki, 'announce'>; audit: TelemetryAuditLog; db: Kysely<Database> },
): void {
  const { telemetry } = deps;
  const refusalAudits = new Map<string, { at: number; suppressed: number }>();

  /**
   * A batch refused whole (malformed, too large, too many messages, ingestion saturated) is audited too,
   * aggregated so that a flood of refusals cannot become a flood of audit writes.
   */
  const onError = async (req: FastifyRequest, _reply: FastifyReply, error: FastifyError | CarapaceError) => {
    // The same codes the problem+json answer carries (see http/problem.ts).
    const code =
      error instanceof CarapaceError
        ? error.code
        : error.validation
          ? 'ERR_VALIDATION'
          : error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
            ? 'ERR_PAYLOAD_TOO_LARGE'
            : error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
              ? 'ERR_UNSUPPORTED_MEDIA_TYPE'
              : (error.statusCode ?? 500) < 500
                ? 'ERR_BAD_REQUEST'
                : 'ERR_INTERNAL';
    const device = req.device?.kind === 'operational' ? req.device : null;
    // One event per device, reason and minute (saturation: per process and second), carrying how many
    // refusals it stands for: a device sending garbage in a loop must not write one audit row per request.
    const key = code === 'ERR_TELEMETRY_BUSY' ? 'busy' : `${device?.deviceId ?? 'unknown'}:${code}`;
    const now = Date.now();
    const last = refusalAudits.get(key);
    if (last && now - last.at < (key === 'busy' ? 1000 : 60_000)) {
      last.suppressed += 1;
      return;
    }
    if (refusalAudits.size > 10_000) refusalAudits.clear();
    refusalAudits.set(key, { at: now, suppressed: 0 });
    const suppressed = last?.suppressed ?? 0;
    await deps.audit
      .append(deps.db, {
        type: 'telemetry.batch.refused',
        actor: { type: 'device', id: device?.deviceId ?? null },
        object: device ? { type: 'vehicle', id: device.vehicleId } : null,
        action: req.routeOptions.config.catalog?.action ?? 'telemetry:ingest',
        decision: 'deny',
        reason: code,
        context: requestContext(req),
        details: {
          ...(device ? { serial: device.serial, thumbprint: device.thumbprint } : {}),
          refusedSinceLastEvent: suppressed,
        },
      })
      .catch((err: unknown) => req.log.error({ err }, 'could not audit a refused telemetry batch'));
  };
  // Kept as raw bytes here; only the telemetry routes accept CBOR, and they decode it themselves.
  routes.parsers.addContentTypeParser(
    CBOR,
    { parseAs: 'buffer', bodyLimit: telemetry.settings.maxBatchBytes },
    (req, body, done) => {
      if (req.routeOptions.config.catalog?.owner !== 'telemetry')
        return done(new CarapaceError('ERR_UNSUPPORTED_MEDIA_TYPE', 'unsupported content type'), undefined);
      done(null, body);
    },
  );

  const route = (backfill: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
    const device = deviceOf(req, 'operational');
    const token = tokenOf(req);
    // The token is bound to this certificate already; this also pins it to the same device id.
    if (token.clientId !== `${DEVICE_CLIENT_PREFIX}${device.deviceId}`)
      throw new CarapaceError('ERR_FORBIDDEN', 'the token was issued to another client', {
        reason: 'token_client_mismatch',
      });
    const messages = Buffer.isBuffer(req.body)
      ? decodeCborBatch(req.body)
      : (req.body as { messages: unknown[] }).messages;
    if (messages.length > telemetry.settings.maxBatchMessages) {
      throw new CarapaceError(
        'ERR_PAYLOAD_TOO_LARGE',
        `a batch holds at most ${telemetry.settings.maxBatchMessages} messages`,
        { reason: 'too_many_messages' },
      );
    }
    const peer = (req.raw.socket as TLSSocket).getPeerX509Certificate();
    if (!peer) throw new Error('an authenticated gateway request without a peer certificate');
    let result;
    try {
      const who = {
        deviceId: device.deviceId,
        vehicleId: device.vehicleId,
        serial: device.serial,
        thumbprint: device.thumbprint,
      };
      result = await telemetry.budget.run(async () =>
        telemetry.ingest({
          device: who,
          keys: await telemetry.keysFor(who, peer),
          messages,
          backfill,
          context: requestContext(req),
        }),
      );
    } catch (err) {
      if (isCarapaceError(err, 'ERR_TELEMETRY_BUSY')) reply.header('retry-after', '1');
      throw err;
    }
    if (result.quarantined) {
      // The quarantine is committed; closing this device's connections waits until this answer is out.
      reply.raw.once(
        'finish',
        () => void deps.pki.announce([{ kind: 'device-status', deviceId: device.deviceId, status: 'quarantined' }]),
      );
    }
    return {
      batchId: result.batchId,
      accepted: result.accepted,
      duplicates: result.duplicates,
      rejected: result.rejected,
      verdicts: result.verdicts,
    };
  };

  const options = (backfill: boolean) => ({
    bodyLimit: telemetry.settings.maxBatchBytes,
    onError,
    auth: { kind: 'device' as const, token: { audience: 'urn:carapace:telemetry', scopes: ['telemetry:write'] } },
    catalog: entry(
      backfill
        ? {
            purpose: 'Ingest a batch of signed telemetry recorded while offline (flagged, wider age window).',
            action: 'telemetry:backfill',
          }
        : {
            purpose: 'Ingest a batch of signed telemetry messages; answers one verdict per message.',
            action: 'telemetry:ingest',
          },
    ),
    schema: { body: BatchBody, response: { 200: Receipt } },
  });

  routes.post('/v1/telemetry', options(false), route(false));
  routes.post('/v1/telemetry/backfill', options(true), route(true));
}
