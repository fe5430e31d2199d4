import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from './listener-type.js';
import { CarapaceError, type ErrorCode, isDatabaseUnavailable, problemType } from '../platform/index.js';

/** RFC 9457 problem details as we send them. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  instance: string;
  [extension: string]: unknown;
}

const TITLES: Partial<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  421: 'Misdirected Request',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Seconds a caller refused for a database outage is told to wait. */
const DATABASE_RETRY_AFTER = 5;

/** Extensions of a CarapaceError that are safe to show a caller (never internals). */
const PUBLIC_CONTEXT_KEYS = new Set(['field', 'reason', 'from', 'to', 'role', 'retryAfter', 'job', 'maxAge']);

/** Sends a problem+json reply. */
export function sendProblem(
  reply: FastifyReply,
  code: ErrorCode,
  detail: string,
  extra: Record<string, unknown> = {},
): FastifyReply {
  const err = new CarapaceError(code, detail);
  const body: Problem = {
    type: problemType(code),
    title: TITLES[err.status] ?? 'Error',
    status: err.status,
    detail,
    code,
    instance: `urn:carapace:request:${reply.request.id}`,
    ...extra,
  };
  return reply.code(err.status).type('application/problem+json; charset=utf-8').send(body);
}

function fromFastifyError(
  err: FastifyError,
): { code: ErrorCode; detail: string; extra: Record<string, unknown> } | null {
  if (err.validation) {
    const first = err.validation[0];
    const where = err.validationContext ?? 'body';
    const path = first?.instancePath ? `${where}${first.instancePath.replaceAll('/', '.')}` : where;
    const extra =
      first?.keyword === 'additionalProperties'
        ? { field: `${path}.${String((first.params as { additionalProperty?: string }).additionalProperty)}` }
        : { field: path };
    const detail =
      first?.keyword === 'additionalProperties'
        ? `unknown field ${extra.field}`
        : `${path} ${first?.message ?? 'is invalid'}`;
    return { code: 'ERR_VALIDATION', detail, extra };
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { code: 'ERR_UNSUPPORTED_MEDIA_TYPE', detail: 'unsupported content type', extra: {} };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'ERR_PAYLOAD_TOO_LARGE', detail: 'the request body is too large', extra: {} };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { code: 'ERR_BAD_REQUEST', detail: 'the request body is not valid JSON', extra: {} };
    default:
      if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
        return { code: 'ERR_BAD_REQUEST', detail: 'the request is malformed', extra: {} };
      }
      return null;
  }
}

/** The RFC 9470 step-up challenge sent with ERR_STEP_UP_REQUIRED, wherever the refusal was decided. */
function stepUpChallenge(err: CarapaceError): string {
  const acr = String(err.context.acrValues ?? '');
  const maxAge = Number(err.context.maxAge ?? 0);
  return (
    'DPoP error="insufficient_user_authentication", ' +
    `error_description="A recent sign-in with a second factor is required", acr_values="${acr}", max_age=${maxAge}`
  );
}

/** Installs the one error handler and the not-found handler: everything becomes problem+json, 5xx masked. */
export function installProblemHandlers(app: App): void {
  app.setErrorHandler((err: FastifyError | CarapaceError, req: FastifyRequest, reply: FastifyReply) => {
    if ((!(err instanceof CarapaceError) || err.code === 'ERR_INTERNAL') && isDatabaseUnavailable(err)) {
      // No audit event: the audit trail lives in the database that just failed. The log carries it instead.
      req.log.error({ err: { message: err.message } }, 'database unavailable; request refused with 503');
      reply.header('retry-after', String(DATABASE_RETRY_AFTER));
      return sendProblem(reply, 'ERR_DATABASE_UNAVAILABLE', 'the database is unavailable; retry shortly');
    }
    if (err instanceof CarapaceError) {
      // A retry hint is safe to show even when the details are masked (a 503 while cluster coordination is down).
      if (typeof err.context.retryAfter === 'number') reply.header('retry-after', String(err.context.retryAfter));
      if (err.code === 'ERR_STEP_UP_REQUIRED') reply.header('www-authenticate', stepUpChallenge(err));
      if (err.status >= 500) {
        req.log.error({ err }, 'request failed');
        return sendProblem(reply, err.code, 'the server could not complete the request');
      }
      const extra = Object.fromEntries(Object.entries(err.context).filter(([k]) => PUBLIC_CONTEXT_KEYS.has(k)));
      return sendProblem(reply, err.code, err.message, extra);
    }
    const mapped = fromFastifyError(err);
    if (mapped) return sendProblem(reply, mapped.code, mapped.detail, mapped.extra);
    // No stack, no database text: the details go to the log under the request id.
    req.log.error({ err }, 'unhandled error');
    return sendProblem(reply, 'ERR_INTERNAL', 'the server could not complete the request');
  });
  app.setNotFoundHandler((_req, reply) => sendProblem(reply, 'ERR_NOT_FOUND', 'no such resource'));
}
