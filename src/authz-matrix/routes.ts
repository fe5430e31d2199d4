/**
 * The routes the matrix exercises, written out by hand from the API reference rather than read from the
 * server: a test compares this list with the live route catalog, so a new route without cells fails CI,
 * and a route whose action, scopes or visibility changed shows up as a difference to review.
 */

/** What kind of object a route acts on. */
export type ObjectKind =
  | 'vehicle'
  | 'self'
  | 'tenant'
  | 'group'
  | 'groupVehicle'
  | 'groupMember'
  | 'delegation'
  | 'invite'
  | 'partnerGrant'
  | 'serviceCase'
  | 'supportCase'
  | 'account'
  | 'platform';

/** One route as the matrix calls it. */
export interface MatrixRoute {
  action: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path with `{id}` (and `{other}` for pairs) where the object ids go; `{job}` is a job id that does not exist. */
  path: string;
  object: ObjectKind;
  scopes: readonly string[];
  anyScope?: boolean;
  /** The action whose permission turns a denial into 403 instead of 404. */
  visibleWith?: string;
  /**
   * `read` requests are sent as they are (allowed = 200). `probe` requests change state when allowed, so
   * they carry an unknown query parameter: authorization runs before validation, so an allowed caller
   * gets 400 ERR_VALIDATION and nothing changes, while a denied one gets 403 or 404.
   */
  mode: 'read' | 'probe';
  /** Extra query for read routes that need one. */
  query?: string;
}

const V = 'vehicle:read';
/** Scopes the command route accepts (any one of them; the command's own scope is checked by the handler). */
const CMD_SCOPES = [
  'fleet:command',
  'security:admin',
  'vehicle:charging',
  'vehicle:climate',
  'vehicle:diagnostics',
  'vehicle:lock',
  'vehicle:remote_start',
  'vehicle:unlock',
];
/** Scopes the webhook routes accept (any one of them; Cedar decides who in which tenant). */
const WEBHOOK_SCOPES = ['fleet:admin', 'security:admin', 'vehicle:read_status'];
/** `{job}` in a path: a command job id that does not exist (the runner fills it in). */
export const NO_JOB = '00000000-0000-4000-8000-000000000000';
/** Every token-authorized route of the public API. */
export const MATRIX_ROUTES: readonly MatrixRoute[] = [
  { action: 'identity:read_self', method: 'GET', path: '/v1/me', object: 'self', scopes: [], mode: 'read' },
  {
    action: 'identity:change_password',
    method: 'POST',
    path: '/v1/me/password',
    object: 'self',
    scopes: [],
    mode: 'probe',
  },
  { action: 'identity:enroll_mfa', method: 'POST', path: '/v1/me/mfa/totp', object: 'self', scopes: [], mode: 'probe' },
  {
    action: 'identity:enroll_mfa',
    method: 'POST',
    path: '/v1/me/mfa/totp/confirm',
    object: 'self',
    scopes: [],
    mode: 'probe',
  },
  {
    action: 'identity:accept_invitation',
    method: 'POST',
    path: '/v1/invitations/accept',
    object: 'self',
    scopes: [],
    mode: 'probe',
  },
  {
    action: 'identity:invite',
    method: 'POST',
    path: '/v1/tenants/{id}/invitations',
    object: 'tenant',
    scopes: [],
    visibleWith: 'tenant:read',
    mode: 'probe',
  },
  {
    action: 'vehicle:list',
    method: 'GET',
    path: '/v1/vehicles',
    object: 'self',
    scopes: ['vehicle:read_status'],
    mode: 'read',
  },
  {
    action: 'vehicle:read',
    method: 'GET',
    path: '/v1/vehicles/{id}',
    object: 'vehicle',
    scopes: ['vehicle:read_status'],
    mode: 'read',
  },
  {
    action: 'vehicle:read_status',
    method: 'GET',
    path: '/v1/vehicles/{id}/status',
    object: 'vehicle',
    scopes: ['vehicle:read_status'],
    visibleWith: V,
    mode: 'read',
  },
  {
    action: 'vehicle:read_status',
    method: 'GET',
    path: '/v2/vehicles/{id}/status',
    object: 'vehicle',
    scopes: ['vehicle:read_status'],
    visibleWith: V,
    mode: 'read',
  },
  {
    action: 'vehicle:read_location',
    method: 'GET',
    path: '/v1/vehicles/{id}/location',
    object: 'vehicle',
    scopes: ['vehicle:location'],
    visibleWith: V,
    mode: 'read',
  },
  {
    action: 'vehicle:read_diagnostics',
    method: 'GET',
    path: '/v1/vehicles/{id}/diagnostics',
    object: 'vehicle',
    scopes: ['vehicle:diagnostics'],
    visibleWith: V,
    mode: 'read',
  },
  {
    action: 'vehicle:claim',
    method: 'POST',
    path: '/v1/vehicle-claims',
    object: 'self',
    scopes: ['vehicle:claim'],
    mode: 'probe',
  },
  {
    action: 'vehicle:transfer',
    method: 'POST',
    path: '/v1/vehicles/{id}/transfer',
    object: 'vehicle',
    scopes: ['vehicle:transfer'],
    visibleWith: V,
    mode: 'probe',
  },
  {
    action: 'delegation:create',
    method: 'POST',
    path: '/v1/vehicles/{id}/delegations',
    object: 'vehicle',
    scopes: ['vehicle:manage_drivers'],
    visibleWith: V,
    mode: 'probe',
  },
  {
    action: 'delegation:list',
    method: 'GET',
    path: '/v1/vehicles/{id}/delegations',
    object: 'vehicle',
    scopes: ['vehicle:manage_drivers'],
    visibleWith: V,
    mode: 'read',
  },
  {
    action: 'delegation:revoke',
    method: 'POST',
    path: '/v1/delegations/{id}/revoke',
    object: 'delegation',
    scopes: ['vehicle:manage_drivers'],
    mode: 'probe',
  },
  {
    action: 'delegation:list_invites',
    method: 'GET',
    path: '/v1/delegation-invites',
    object: 'self',
    scopes: [],
    mode: 'read',
  },
  {
    action: 'delegation:accept',
    method: 'POST',
    path: '/v1/delegation-invites/{id}/accept',
    object: 'invite',
    scopes: [],
    mode: 'probe',
  },
  {
    action: 'delegation:revoke_invite',
    method: 'POST',
    path: '/v1/delegation-invites/{id}/revoke',
    object: 'invite',
    scopes: ['vehicle:manage_drivers'],
    mode: 'probe',
  },
  {
    action: 'partner_grant:create',
    method: 'POST',
    path: '/v1/vehicles/{id}/partner-grants',
    object: 'vehicle',
    scopes: ['vehicle:consent'],
    visibleWith: V,
    mode: 'probe',
  },
  {
    action: 'partner_grant:list',
    method: 'GET',
    path: '/v1/vehicles/{id}/partner-grants',
    object: 'vehicle',
    scopes: ['vehicle:consent'],
    visibleWith: V,
    mode: 'read',
  },
  {
    action: 'partner_grant:revoke',
    method: 'POST',
    path: '/v1/partner-grants/{id}/revoke',
    object: 'partnerGrant',
    scopes: ['vehicle:consent'],
    mode: 'probe',
  },
  // Webhooks: a tenant's fleet and security admins, and a partner in its own tenant (`{job}`: no such subscription).
  ...webhookRoutes(),
  {
    action: 'fleet:list_groups',
    method: 'GET',
    path: '/v1/fleets/{id}/groups',
    object: 'tenant',
    scopes: ['fleet:read'],
    visibleWith: 'tenant:read',
    mode: 'read',
  },
  {
    action: 'fleet:create_group',
    method: 'POST',
    path: '/v1/fleets/{id}/groups',
    object: 'tenant',
    scopes: ['fleet:admin'],
    visibleWith: 'tenant:read',
    mode: 'probe',
  },
  {
    action: 'fleet:read_group',
    method: 'GET',
    path: '/v1/fleet-groups/{id}',
    object: 'group',
    scopes: ['fleet:read'],
    mode: 'read',
  },
  {
    action: 'fleet:assign_vehicle',
    method: 'PUT',
    path: '/v1/fleet-groups/{id}/vehicles/{other}',
    object: 'groupVehicle',
    scopes: ['fleet:admin'],
    visibleWith: 'fleet:read_group',
    mode: 'probe',
  },
  {
    action: 'fleet:unassign_vehicle',
    method: 'DELETE',
    path: '/v1/fleet-groups/{id}/vehicles/{other}',
    object: 'groupVehicle',
    scopes: ['fleet:admin'],
    visibleWith: 'fleet:read_group',
    mode: 'probe',
  },
  {
    action: 'fleet:assign_member',
    method: 'PUT',
    path: '/v1/fleet-groups/{id}/members/{other}',
    object: 'groupMember',
    scopes: ['fleet:admin'],
    visibleWith: 'fleet:read_group',
    mode: 'probe',
  },
  {
    action: 'fleet:unassign_member',
    method: 'DELETE',
    path: '/v1/fleet-groups/{id}/members/{other}',
    object: 'groupMember',
    scopes: ['fleet:admin'],
    visibleWith: 'fleet:read_group',
    mode: 'probe',
  },
  {
    action: 'service_case:request',
    method: 'POST',
    path: '/v1/dealers/{id}/service-cases',
    object: 'tenant',
    scopes: ['vehicle:diagnostics'],
    visibleWith: 'tenant:read',
    mode: 'probe',
  },
  {
    action: 'service_case:list',
    method: 'GET',
    path: '/v1/dealers/{id}/service-cases',
    object: 'tenant',
    scopes: ['vehicle:diagnostics'],
    visibleWith: 'tenant:read',
    mode: 'read',
  },
  {
    action: 'service_case:list_for_vehicle',
    method: 'GET',
    path: '/v1/vehicles/{id}/service-cases',
    object: 'vehicle',
    scopes: ['vehicle:consent'],
    visibleWith: V,
    mode: 'read',
  },
  {
    action: 'service_case:consent',
    method: 'POST',
    path: '/v1/service-cases/{id}/consent',
    object: 'serviceCase',
    scopes: ['vehicle:consent'],
    mode: 'probe',
  },
  {
    action: 'service_case:close',
    method: 'POST',
    path: '/v1/service-cases/{id}/close',
    object: 'serviceCase',
    scopes: ['vehicle:consent', 'vehicle:diagnostics'],
    anyScope: true,
    mode: 'probe',
  },
  {
    action: 'support_case:open',
    method: 'POST',
    path: '/v1/support-cases',
    object: 'platform',
    scopes: ['security:admin'],
    mode: 'probe',
  },
  {
    action: 'support_case:list',
    method: 'GET',
    path: '/v1/support-cases',
    object: 'self',
    scopes: ['support:read'],
    mode: 'read',
  },
  {
    action: 'support_case:close',
    method: 'POST',
    path: '/v1/support-cases/{id}/close',
    object: 'supportCase',
    scopes: ['support:read', 'security:admin'],
    anyScope: true,
    mode: 'probe',
  },
  {
    action: 'support_case:approve_command',
    method: 'POST',
    path: '/v1/support-cases/{id}/approvals',
    object: 'supportCase',
    scopes: ['security:admin'],
    mode: 'probe',
  },
  {
    action: 'account:read',
    method: 'GET',
    path: '/v1/accounts/{id}',
    object: 'account',
    scopes: ['support:read'],
    mode: 'read',
  },
  {
    action: 'support:search',
    method: 'GET',
    path: '/v1/support/accounts',
    object: 'self',
    scopes: ['support:read'],
    mode: 'read',
    query: 'email=alice%40example.com',
  },
  // Commands. The probe body is {} (no command), so a permit that needs a particular command does not match.
  {
    action: 'vehicle:command',
    method: 'POST',
    path: '/v1/vehicles/{id}/commands',
    object: 'vehicle',
    scopes: CMD_SCOPES,
    anyScope: true,
    visibleWith: V,
    mode: 'probe',
  },
  {
    action: 'vehicle:list_commands',
    method: 'GET',
    path: '/v1/vehicles/{id}/commands',
    object: 'vehicle',
    scopes: ['vehicle:read_status'],
    visibleWith: V,
    mode: 'read',
  },
  // A job id that does not exist: the probe is answered by authorization (404/403) or validation (400) before any
  // lookup.
  {
    action: 'vehicle:read_command',
    method: 'GET',
    path: '/v1/vehicles/{id}/commands/{job}',
    object: 'vehicle',
    scopes: ['vehicle:read_status'],
    visibleWith: V,
    mode: 'probe',
  },
  {
    action: 'vehicle:read_command',
    method: 'GET',
    path: '/v1/vehicles/{id}/commands/{job}/events',
    object: 'vehicle',
    scopes: ['vehicle:read_status'],
    visibleWith: V,
    mode: 'probe',
  },
  {
    action: 'fleet:command',
    method: 'POST',
    path: '/v1/fleets/{id}/commands',
    object: 'tenant',
    scopes: ['fleet:command'],
    visibleWith: 'tenant:read',
    mode: 'probe',
  },
];

/** The webhook subscription routes: one action on the tenant, any one of the three scopes. */
function webhookRoutes(): MatrixRoute[] {
  const base = { action: 'webhook:manage', object: 'tenant' as const, scopes: WEBHOOK_SCOPES, anyScope: true };
  const item = '/v1/tenants/{id}/webhooks/{job}';
  return [
    { ...base, method: 'GET', path: '/v1/tenants/{id}/webhooks', mode: 'read' },
    { ...base, method: 'POST', path: '/v1/tenants/{id}/webhooks', mode: 'probe' },
    { ...base, method: 'GET', path: item, mode: 'probe' },
    { ...base, method: 'PUT', path: item, mode: 'probe' },
    { ...base, method: 'DELETE', path: item, mode: 'probe' },
    { ...base, method: 'POST', path: `${item}/rotate-secret`, mode: 'probe' },
    { ...base, method: 'POST', path: `${item}/ping`, mode: 'probe' },
    { ...base, method: 'GET', path: `${item}/deliveries`, mode: 'probe' },
  ];
}
