import { pathToFileURL } from 'node:url';
import { ERROR_STATUS, type ErrorCode, problemType } from './errors.js';

/** What each error means for the caller, and what to do. The compiler insists every code is described. */
export const ERROR_DESCRIPTIONS: Record<ErrorCode, string> = {
  ERR_BAD_REQUEST: 'The request could not be parsed (malformed JSON, bad framing, conflicting length headers).',
  ERR_MISDIRECTED_REQUEST:
    'The `Host` header does not name this deployment (`publicBaseUrl`). Every URL the server derives (issuer, ' +
    'endpoints, DPoP `htu`, client-assertion audience) is pinned to `publicBaseUrl`; send the request to it.',
  ERR_VALIDATION:
    'A field is missing, malformed or unknown; `field` names it. Unknown fields are refused, never ignored.',
  ERR_UNSUPPORTED_MEDIA_TYPE: 'The body has a content type this route does not accept.',
  ERR_PAYLOAD_TOO_LARGE: 'The body is larger than the route allows.',
  ERR_FORBIDDEN:
    'The caller is known but not allowed to do this (for example grant a privileged role without holding the ' +
    'granting role).',
  ERR_CSRF:
    'A console session cookie came without the header `X-Carapace-Console: 1`. The console sends it on every ' +
    'request; a cross-site form or link cannot, so the request is refused.',
  ERR_ELEVATION_REQUIRED:
    'The operator role allows this admin action only with a just-in-time elevation: `POST /admin/v1/elevations` ' +
    'with a reason and a duration, then retry.',
  ERR_APPROVAL_REQUIRED:
    "A fleet-wide admin action needs a second, different operator's approval: `POST /admin/v1/approvals`, have " +
    'another operator `POST /admin/v1/approvals/:id/approve`, then retry with its id in `X-Carapace-Approval`.',
  ERR_OPERATOR_SIGN_IN_REQUIRED:
    'The console session is unknown, ended (sign-out, disabled operator), expired or idle too long: sign in again ' +
    'at `/admin/v1/operator-sign-in`.',
  ERR_NOT_FOUND: 'No such resource, or one the caller may not see: the two are indistinguishable.',
  ERR_CONFLICT:
    'The request conflicts with the current state (for example a vehicle that already has a unit in service); ' +
    'retry after reading it again.',
  ERR_CLAIM_REFUSED:
    'The vehicle cannot be claimed with that VIN and code. The same answer covers an unknown VIN, a vehicle that ' +
    'already has an owner or fleet, and a wrong, used or expired code; ask the vehicle for a new code.',
  ERR_CLAIM_LOCKED:
    'Too many failed claim attempts for this vehicle or this account; wait for the window (Retry-After) and use a ' +
    'fresh code from the vehicle.',
  ERR_SERVICE_REQUEST_LIMITED:
    'This dealer sent too many service requests in the window, in all or for this VIN (each one is shown to the ' +
    "vehicle's owner); wait for the window (Retry-After).",
  ERR_TRANSFER_REFUSED:
    'The vehicle cannot be transferred to that account (it does not exist, is not active, or is the current ' +
    'owner); the answer does not say which.',
  ERR_INVITE_INVALID:
    'The delegation invite code is wrong, already used, expired, revoked, or its issuing ownership has ended.',
  ERR_CASE_REFUSED:
    'The case cannot be opened or acted on as asked (unknown account, an assignee who is not a support agent, a ' +
    'vehicle the account does not own, or a command approval on a case without a vehicle).',
  ERR_INTERNAL: 'The server failed; details are in its log under the request id, never in the response.',
  ERR_CONFIG_INVALID:
    'Configuration is invalid; the message names the key or variable. Raised at start, not over HTTP.',
  ERR_TOKEN_INVALID:
    'The access token is missing, malformed, expired, for another audience or issuer, not an access token, not ' +
    'bound to this presenter (DPoP proof or certificate), replayed, or minted before a password change; `reason` ' +
    'says which and WWW-Authenticate carries the challenge.',
  ERR_CLIENT_CERT_REQUIRED: 'The listener requires a client certificate and none was presented.',
  ERR_CLIENT_CERT_UNTRUSTED:
    'The client certificate is not from a CA trusted for this listener, is not one this platform issued, or has ' +
    'the wrong purpose.',
  ERR_CLIENT_CERT_EXPIRED:
    'The client certificate has expired; an expired device certificate cannot rotate and needs re-provisioning.',
  ERR_CLIENT_CERT_NOT_YET_VALID: 'The client certificate is not valid yet; check the device clock.',
  ERR_CLIENT_CERT_REVOKED: 'The client certificate has been revoked.',
  ERR_CLIENT_CERT_SUPERSEDED:
    'A newer certificate replaced this one (it was used, or the rotation overlap ended); use the newer one.',
  ERR_CLIENT_CERT_WRONG_PROFILE:
    'This kind of certificate is not accepted on this route (a factory certificate outside enrollment, or an ' +
    'operational one at enrollment).',
  ERR_DEVICE_MISMATCH: 'The certificate belongs to a different device than the one the request names.',
  ERR_DEVICE_NOT_ACTIVE: 'The device is quarantined, revoked or decommissioned.',
  ERR_PKI_CSR_INVALID:
    'The CSR is missing, unparseable, too large, signed wrongly (no proof of possession), or for a key type other ' +
    'than Ed25519 or P-256; `reason` says which.',
  ERR_PKI_KEY_REUSED: 'The CSR key was certified before (including the factory key); generate a new key pair.',
  ERR_PKI_DEVICE_NOT_PROVISIONED: 'No device is provisioned for this unit (or under the requested device id).',
  ERR_PKI_DEVICE_ALREADY_ENROLLED: 'The unit is already enrolled; it renews with its operational certificate instead.',
  ERR_PKI_DEVICE_ID_CONFLICT:
    'The device id is in service with a different unit; a replaced unit goes through the replacement flow.',
  ERR_PKI_TRANSITION_NOT_ALLOWED: 'The device lifecycle does not allow this transition; `from` and `to` say which.',
  ERR_PKI_CA_MISSING: 'A CA (or its key) is not available here; production imports CAs with `carapace pki import`.',
  ERR_PKI_CA_INVALID: 'An imported CA certificate or key is not usable (not a CA, wrong signer, key does not match).',
  ERR_PKI_REVOCATION_INVALID:
    'A revocation request is malformed: give exactly one of serial or deviceId, and an RFC 5280 reason.',
  ERR_PKI_DEVICE_NOT_FOUND: 'No such device.',
  ERR_PKI_CERT_NOT_FOUND: 'No certificate with that serial was issued by this platform.',
  ERR_PKI_SERIAL_IN_USE: 'That TCU serial is already registered to a device.',
  ERR_AUDIT_NOT_SEALED:
    'The audit event is not yet in a signed checkpoint (events are sealed after `audit.sealSettle`); retry after the ' +
    'next checkpoint, or create one (`POST /admin/v1/audit/checkpoints`).',
  ERR_AUDIT_PRUNED:
    'That part of the audit trail was removed by retention: the event, or a proof from a checkpoint, needs leaves ' +
    'below the prune horizon that were not kept. Checkpoints and proofs of surviving events still verify.',
  ERR_AUDIT_RETENTION_OFF: 'Audit retention is off (`audit.retention.days` is 0): nothing is ever pruned.',
  ERR_AUDIT_TREE_BROKEN:
    'The audit tree no longer matches its signed checkpoints, so nothing is pruned (pruning would destroy the ' +
    'evidence): run `carapace audit verify`.',
  ERR_GATEWAY_BUSY:
    'The vehicle gateway is issuing tokens or opening command channels at its bound in this process ' +
    '(`connections.gatewayMaxConcurrentOpens`); nothing was done. Retry after `Retry-After` seconds, with jitter.',
  ERR_TELEMETRY_BUSY:
    'Telemetry ingestion is at its worker budget in this process; nothing in the batch was stored. Retry after ' +
    '`Retry-After` seconds.',
  ERR_STEP_UP_REQUIRED:
    'The command needs a recent multi-factor sign-in (RFC 9470). `WWW-Authenticate` carries ' +
    '`error="insufficient_user_authentication"`, `acr_values` and `max_age`: sign in again with the second factor, ' +
    'then repeat the request with the new token.',
  ERR_IDEMPOTENCY_KEY_REQUIRED:
    'Physical commands need an `Idempotency-Key` header (1 to 200 printable characters), so a retried request ' +
    'never makes a second job.',
  ERR_IDEMPOTENCY_KEY_REUSED:
    'This Idempotency-Key was already used by you with a different request within 24 hours. Use a new key for a ' +
    'new request.',
  ERR_COMMAND_REJECTED:
    'The job was recorded and rejected before it reached the vehicle (`reason`: vehicle state unknown, stale or ' +
    'unsafe, region, conflicting command in flight, no active or a quarantined device). Nothing was sent: safe to ' +
    'retry once the reason is gone.',
  ERR_COMMAND_RATE_LIMITED:
    "A command limit (per user, application, vehicle, tenant, command sequence, global, or the tenant's in-flight cap) is reached; `reason` names it. Retry after `Retry-After` seconds.",
  ERR_BULK_REFUSED:
    'A fleet command named a vehicle outside your reach, or was too large. Nothing was queued: a batch is ' +
    'authorized all or nothing, and the answer never says which vehicle it was.',
  ERR_CLUSTER_UNAVAILABLE:
    'Cluster coordination (Redis) could not answer in time, so a security limit (sign-in lockout, DPoP replay ' +
    'check, command limit, idempotency reservation, claim lockout) could not be checked and the request was ' +
    'refused rather than let through. Nothing was done; retry in a few seconds.',
  ERR_DATABASE_UNAVAILABLE:
    'The database did not answer in time (unreachable, restarting, too slow, out of connections), so the request ' +
    'was not acknowledged. Retry after `Retry-After` seconds, with the same Idempotency-Key where the route takes ' +
    'one. Lost connections are replaced as soon as the database answers; `/readyz` shows `database: false` meanwhile.',
  ERR_INCIDENT_TRANSITION_REFUSED:
    'The incident cannot move to that state from its current one (open → triaged → contained → recovered → ' +
    'closed; a false positive closes from open or triaged; a closed incident reopens to open). `from` and `to` ' +
    'name the states; read the incident again.',
  ERR_INCIDENT_APPROVAL_REFUSED:
    'The playbook step cannot be approved by this operator: a step that touches more vehicles than ' +
    '`incidents.approvalVehicleThreshold`, that resets a second factor (`account.reset_mfa`) or that acts on a ' +
    'first-party application (`client.*`) needs a second operator, never the one who started the run.',
  ERR_PLAYBOOK_INVALID:
    'A playbook file under the playbooks directory does not match the playbook schema (unknown field, unknown ' +
    'action, bad parameter); the server refuses to start until it is fixed. `file` names it.',
  ERR_OUTBOUND_BLOCKED:
    'The outbound layer refused the destination URL (src/outbound): not https, credentials in the URL, or a name ' +
    'or literal that is, or resolves to, a private, loopback, link-local, metadata, reserved or embedded ' +
    'address. `reason` names the rule. Nothing was sent; the attempt is audited as `outbound.blocked`.',
  ERR_OUTBOUND_TIMEOUT:
    'The destination did not connect or answer within the outbound time limits (`outbound.connectTimeout`, ' +
    '`outbound.timeout`); the request was aborted.',
  ERR_OUTBOUND_TOO_LARGE:
    'The destination answered with more than the response cap (`outbound.maxResponseBytes`); reading stopped and ' +
    'the connection was closed.',
  ERR_OUTBOUND_CIRCUIT_OPEN:
    "The destination's circuit breaker is open after consecutive failures; nothing was sent. It is tried again " +
    'after `outbound.breaker.cooldown`.',
  ERR_OUTBOUND_BUSY:
    'The outbound layer is at its concurrency budget for this host or in all, and its queue is full; nothing was ' +
    'sent. Retry later.',
  ERR_OUTBOUND_FAILED:
    'The outbound request failed on the way (DNS, connection refused or reset, TLS verification); `reason` says ' +
    'which, without the URL or headers.',
  ERR_WEBHOOK_URL_REFUSED:
    'A webhook endpoint URL the outbound layer will not call (not https, a private, loopback, link-local or ' +
    'metadata address, a name that does not resolve). `reason` says which; nothing was registered.',
  ERR_WEBHOOK_EVENTS_FORBIDDEN:
    'The subscription asks for event types its owner may not receive: security events (detections, incidents) ' +
    "go to a tenant's fleet admins and security admins only, never to a partner. `eventTypes` lists them.",
  ERR_WEBHOOK_NOT_REPLAYABLE:
    'Only a dead-lettered delivery can be replayed (a delivered or withheld one cannot); `state` is its state.',
  ERR_WEBHOOK_LIMIT_REACHED:
    'The tenant already holds `webhooks.maxSubscriptionsPerTenant` subscriptions (the detail names the number); ' +
    'delete one first. Nothing was registered.',
  ERR_API_VERSION_RETIRED:
    'This version of the route is past its sunset and no longer answers; `successor` names the route to call and ' +
    'the `Link` header the migration note. Nothing was done.',
};

/** Renders docs/errors.md. */
export function renderErrorReference(): string {
  const lines = [
    '# Error reference',
    '',
    '<!-- Generated from src/platform/error-reference.ts by `npm run docs:errors`. Do not edit by hand. -->',
    '',
    'Every error is `application/problem+json` (RFC 9457) with `type`, `title`, `status`, `detail`, `code` and',
    '`instance` (the request id). Match on `code` or `type`: they are stable; `detail` is for people.',
    '',
    '| code | status | type | meaning |',
    '|---|---|---|---|',
  ];
  for (const [code, status] of Object.entries(ERROR_STATUS) as Array<[ErrorCode, number]>) {
    lines.push(`| \`${code}\` | ${status} | \`${problemType(code)}\` | ${ERROR_DESCRIPTIONS[code]} |`);
  }
  return `${lines.join('\n')}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(renderErrorReference());
}
