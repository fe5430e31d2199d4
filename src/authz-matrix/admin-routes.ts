/**
 * The admin plane's routes as the matrix probes them, written out by hand: each with a valid body and the kind of
 * object its path names, so an allowed probe reaches the handler and a 400 is never mistaken for an allowed cell.
 * A test compares this list with the admin listener's live catalog (same routes, same actions).
 */

/** An object a path or body names; the scenario supplies a real one (fresh for a state change it may take). */
export type AdminObject =
  | 'device'
  | 'quarantinedDevice'
  | 'vehicle'
  | 'user'
  | 'incident'
  | 'finding'
  | 'hold'
  | 'approval'
  | 'step'
  | 'auditEvent'
  | 'playbook'
  | 'delivery'
  | 'checkpoint'
  | 'laterCheckpoint';

/** One admin route as the matrix calls it. */
export interface AdminProbe {
  action: string;
  method: 'GET' | 'POST';
  /** The catalog path (`:name` parameters); `{kind}` in `send` is replaced by an object of that kind. */
  path: string;
  /** The request sent: path and query with `{kind}` placeholders, and the body (whose strings may hold them too). */
  send: string;
  body?: unknown;
  /** `release` asks for a device back to `active`: judged by the release rule, not the action's. */
  release?: boolean;
  /** `approver` approves a request for `auth:revoke_client_tokens`: judged by the approver rule. */
  approver?: boolean;
  /** `retire` moves a device to `decommissioned`: judged by the retire rule. */
  retire?: boolean;
  /** Runs after every other probe, in this order: it changes the caller itself (elevates, signs out). */
  last?: 1 | 2;
}

const reason = 'authz-matrix probe';
const get = (action: string, path: string, send = path): AdminProbe => ({ action, method: 'GET', path, send });
const post = (action: string, path: string, send: string, body?: unknown, extra: Partial<AdminProbe> = {}) => ({
  action,
  method: 'POST' as const,
  path,
  send,
  ...(body === undefined ? {} : { body }),
  ...extra,
});
const INC = '/admin/v1/incidents/:incidentId';
const inc = '/admin/v1/incidents/{incident}';

/** Every operator-authenticated route of the admin plane. */
export const ADMIN_PROBES: readonly AdminProbe[] = [
  get('operators:read_self', '/admin/v1/operator/me'),
  get('operators:list_approvals', '/admin/v1/approvals'),
  post('operators:request_approval', '/admin/v1/approvals', '/admin/v1/approvals', {
    action: 'auth:revoke_client_tokens',
    reason,
  }),
  post(
    'operators:approve',
    '/admin/v1/approvals/:approvalId/approve',
    '/admin/v1/approvals/{approval}/approve',
    undefined,
    { approver: true },
  ),
  post('pki:revoke', '/admin/v1/revocations', '/admin/v1/revocations', { deviceId: '{device}', reason: 'superseded' }),
  get('pki:read_device', '/admin/v1/devices/:deviceId', '/admin/v1/devices/{device}'),
  get('pki:read_device', '/admin/v1/devices', '/admin/v1/devices?q={device}'),
  get('pki:read_device', '/admin/v1/devices/:deviceId/history', '/admin/v1/devices/{device}/history'),
  post('pki:transition_device', '/admin/v1/devices/:deviceId/status', '/admin/v1/devices/{device}/status', {
    status: 'quarantined',
    reason,
  }),
  post(
    'pki:transition_device',
    '/admin/v1/devices/:deviceId/status',
    '/admin/v1/devices/{quarantinedDevice}/status',
    { status: 'active', reason },
    { release: true },
  ),
  post(
    'pki:transition_device',
    '/admin/v1/devices/:deviceId/status',
    '/admin/v1/devices/{device}/status',
    { status: 'decommissioned', reason },
    { retire: true },
  ),
  post('pki:replace_device', '/admin/v1/devices/:deviceId/replacement', '/admin/v1/devices/{device}/replacement', {
    tcuSerial: 'TCU-MATRIX-{device}',
    reason,
  }),
  post('identity:reset_mfa', '/admin/v1/users/:userId/mfa-reset', '/admin/v1/users/{user}/mfa-reset', { reason }),
  post(
    'auth:revoke_client_tokens',
    '/admin/v1/clients/:clientId/token-revocation',
    '/admin/v1/clients/matrix-nobody/token-revocation',
    { reason },
  ),
  get('audit:read', '/admin/v1/audit-events'),
  get('telemetry:list_quarantines', '/admin/v1/telemetry/quarantines'),
  post(
    'telemetry:release_quarantine',
    '/admin/v1/telemetry/quarantines/:deviceId/release',
    '/admin/v1/telemetry/quarantines/{device}/release',
    { reason },
  ),
  get('console:read_fleet', '/admin/v1/fleet'),
  get('console:read_fleet', '/admin/v1/fleet/events', '/admin/v1/fleet/events?once=1'),
  get('console:read_matrix', '/admin/v1/authz-matrix/runs/current'),
  get('console:read_matrix', '/admin/v1/authz-matrix/report'),
  // No target is configured where the matrix runs: an allowed probe is refused by validation, never starts a run.
  post('console:run_matrix', '/admin/v1/authz-matrix/runs', '/admin/v1/authz-matrix/runs', { target: 'matrix-none' }),
  get('telemetry:read_vehicle_state', '/admin/v1/vehicles/:vehicleId/state', '/admin/v1/vehicles/{vehicle}/state'),
  post('identity:link', '/admin/v1/federation/links', '/admin/v1/federation/links', {
    issuer: 'https://idp.matrix.example',
    subject: 'matrix-{user}',
    userId: '{user}',
  }),
  get('identity:read_links', '/admin/v1/users/:userId/federation/links', '/admin/v1/users/{user}/federation/links'),
  get('audit:read', '/admin/v1/audit/checkpoints/latest'),
  post('audit:checkpoint', '/admin/v1/audit/checkpoints', '/admin/v1/audit/checkpoints'),
  get('audit:read', '/admin/v1/audit/events/:eventId/inclusion', '/admin/v1/audit/events/{auditEvent}/inclusion'),
  get(
    'audit:read',
    '/admin/v1/audit/consistency',
    '/admin/v1/audit/consistency?first={checkpoint}&second={laterCheckpoint}',
  ),
  get('audit:read', '/admin/v1/audit/tail'),
  get('audit:read', '/admin/v1/investigations', '/admin/v1/investigations?pivot=device&value={device}'),
  // A dry run: the prune reports what it would remove and removes nothing.
  post('audit:prune', '/admin/v1/audit/prune', '/admin/v1/audit/prune', { dryRun: true }),
  get('audit:read', '/admin/v1/audit/holds'),
  post('audit:hold', '/admin/v1/audit/holds', '/admin/v1/audit/holds', { fromSeq: 1, toSeq: 1, reason }),
  post('audit:hold', '/admin/v1/audit/holds/:holdId/release', '/admin/v1/audit/holds/{hold}/release', { reason }),
  get('detect:read', '/admin/v1/findings'),
  get('detect:read', '/admin/v1/findings/:findingId', '/admin/v1/findings/{finding}'),
  post('detect:update_finding', '/admin/v1/findings/:findingId/status', '/admin/v1/findings/{finding}/status', {
    status: 'suppressed',
    reason,
  }),
  get('detect:read', '/admin/v1/detections'),
  get('incidents:list', '/admin/v1/incidents'),
  post('incidents:open', '/admin/v1/incidents', '/admin/v1/incidents', { title: 'matrix probe', severity: 'low' }),
  get('incidents:read', INC, inc),
  post('incidents:transition', `${INC}/transitions`, `${inc}/transitions`, { to: 'triaged', reason }),
  post('incidents:assign', `${INC}/owner`, `${inc}/owner`, { owner: 'matrix-owner' }),
  post('incidents:note', `${INC}/notes`, `${inc}/notes`, { text: reason }),
  post('incidents:attach_finding', `${INC}/findings`, `${inc}/findings`, { findingId: '{finding}' }),
  post('incidents:scope', `${INC}/scope`, `${inc}/scope`, {}),
  get('incidents:list_playbooks', '/admin/v1/playbooks'),
  post('incidents:dry_run', `${INC}/playbooks/:playbookId/dry-run`, `${inc}/playbooks/{playbook}/dry-run`),
  post('incidents:run_playbook', `${INC}/playbooks/:playbookId/runs`, `${inc}/playbooks/{playbook}/runs`),
  get('incidents:list_runs', `${INC}/runs`, `${inc}/runs`),
  post(
    'incidents:approve_step',
    '/admin/v1/playbook-steps/:stepId/decision',
    '/admin/v1/playbook-steps/{step}/decision',
    {
      decision: 'reject',
      reason,
    },
  ),
  get('incidents:list_notifications', '/admin/v1/incident-notifications'),
  get('incidents:governance', '/admin/v1/governance/response'),
  get('observability:metrics:read', '/metrics'),
  get('webhooks:list_deliveries', '/admin/v1/webhooks/deliveries'),
  post('webhooks:replay', '/admin/v1/webhooks/deliveries/replay', '/admin/v1/webhooks/deliveries/replay', {
    ids: ['{delivery}'],
  }),
  get('webhooks:status', '/admin/v1/webhooks/status'),
  post('webhooks:rotate_key', '/admin/v1/webhooks/keys/rotate', '/admin/v1/webhooks/keys/rotate'),
  get('inventory:openapi', '/admin/v1/openapi/:plane', '/admin/v1/openapi/admin'),
  get('inventory:read', '/admin/v1/inventory'),
  get('inventory:read', '/admin/v1/inventory/deprecated'),
  get('inventory:governance', '/admin/v1/governance'),
  get('inventory:governance', '/admin/v1/governance/history', '/admin/v1/governance/history?measure=deny-events'),
  post('operators:elevate', '/admin/v1/elevations', '/admin/v1/elevations', { reason, minutes: 5 }, { last: 1 }),
  post('operators:sign_out', '/admin/v1/operator-sign-out', '/admin/v1/operator-sign-out', undefined, { last: 2 }),
];
