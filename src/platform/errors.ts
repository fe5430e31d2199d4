/**
 * One error type for the whole platform. Each error carries a stable `code` from a closed union; the HTTP
 * layer maps codes to status and problem+json `type`, and tests assert on codes rather than messages.
 */

/** Every error code Carapace can raise, with the HTTP status it maps to. */
export const ERROR_STATUS = {
  ERR_BAD_REQUEST: 400,
  ERR_MISDIRECTED_REQUEST: 421,
  ERR_VALIDATION: 400,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_PAYLOAD_TOO_LARGE: 413,
  ERR_FORBIDDEN: 403,
  ERR_CSRF: 403,
  ERR_ELEVATION_REQUIRED: 403,
  ERR_APPROVAL_REQUIRED: 403,
  ERR_OPERATOR_SIGN_IN_REQUIRED: 401,
  ERR_NOT_FOUND: 404,
  ERR_CONFLICT: 409,
  ERR_CLAIM_REFUSED: 422,
  ERR_CLAIM_LOCKED: 429,
  ERR_SERVICE_REQUEST_LIMITED: 429,
  ERR_TRANSFER_REFUSED: 422,
  ERR_INVITE_INVALID: 422,
  ERR_CASE_REFUSED: 422,
  ERR_INTERNAL: 500,
  ERR_CONFIG_INVALID: 500,
  ERR_TOKEN_INVALID: 401,
  ERR_CLIENT_CERT_REQUIRED: 401,
  ERR_CLIENT_CERT_UNTRUSTED: 401,
  ERR_CLIENT_CERT_EXPIRED: 401,
  ERR_CLIENT_CERT_NOT_YET_VALID: 401,
  ERR_CLIENT_CERT_REVOKED: 401,
  ERR_CLIENT_CERT_SUPERSEDED: 401,
  ERR_CLIENT_CERT_WRONG_PROFILE: 403,
  ERR_DEVICE_MISMATCH: 403,
  ERR_DEVICE_NOT_ACTIVE: 403,
  ERR_PKI_CSR_INVALID: 400,
  ERR_PKI_KEY_REUSED: 400,
  ERR_PKI_DEVICE_NOT_PROVISIONED: 403,
  ERR_PKI_DEVICE_ALREADY_ENROLLED: 409,
  ERR_PKI_DEVICE_ID_CONFLICT: 409,
  ERR_PKI_TRANSITION_NOT_ALLOWED: 409,
  ERR_PKI_CA_MISSING: 500,
  ERR_PKI_CA_INVALID: 400,
  ERR_PKI_REVOCATION_INVALID: 400,
  ERR_PKI_DEVICE_NOT_FOUND: 404,
  ERR_PKI_CERT_NOT_FOUND: 404,
  ERR_PKI_SERIAL_IN_USE: 409,
  ERR_AUDIT_NOT_SEALED: 409,
  ERR_AUDIT_PRUNED: 410,
  ERR_AUDIT_RETENTION_OFF: 409,
  ERR_AUDIT_TREE_BROKEN: 409,
  ERR_TELEMETRY_BUSY: 503,
  ERR_GATEWAY_BUSY: 503,
  ERR_STEP_UP_REQUIRED: 401,
  ERR_IDEMPOTENCY_KEY_REQUIRED: 400,
  ERR_IDEMPOTENCY_KEY_REUSED: 422,
  ERR_COMMAND_REJECTED: 409,
  ERR_COMMAND_RATE_LIMITED: 429,
  ERR_BULK_REFUSED: 422,
  ERR_CLUSTER_UNAVAILABLE: 503,
  ERR_DATABASE_UNAVAILABLE: 503,
  ERR_INCIDENT_TRANSITION_REFUSED: 409,
  ERR_INCIDENT_APPROVAL_REFUSED: 403,
  ERR_PLAYBOOK_INVALID: 500,
  ERR_OUTBOUND_BLOCKED: 422,
  ERR_OUTBOUND_TIMEOUT: 504,
  ERR_OUTBOUND_TOO_LARGE: 502,
  ERR_OUTBOUND_CIRCUIT_OPEN: 503,
  ERR_OUTBOUND_BUSY: 503,
  ERR_OUTBOUND_FAILED: 502,
  ERR_WEBHOOK_URL_REFUSED: 400,
  ERR_WEBHOOK_EVENTS_FORBIDDEN: 403,
  ERR_WEBHOOK_NOT_REPLAYABLE: 409,
  ERR_WEBHOOK_LIMIT_REACHED: 409,
  ERR_API_VERSION_RETIRED: 410,
} as const;

/** A stable, documented error code. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/** Base error: a code, a safe message, structured context for logs, and an optional cause. */
export class CarapaceError extends Error {
  readonly code: ErrorCode;
  readonly context: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CarapaceError';
    this.code = code;
    this.context = context;
  }

  /** The HTTP status this error maps to. */
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/** True when `err` is a CarapaceError with the given code (or any code when omitted). */
export function isCarapaceError(err: unknown, code?: ErrorCode): err is CarapaceError {
  return err instanceof CarapaceError && (code === undefined || err.code === code);
}

/** The problem+json `type` URI for a code: stable, documented in docs/errors.md. */
export function problemType(code: ErrorCode): string {
  return `urn:carapace:problem:${code.slice(4).toLowerCase().replaceAll('_', '-')}`;
}
