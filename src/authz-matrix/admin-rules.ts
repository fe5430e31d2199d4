/**
 * The admin plane's product rules, written by hand from issue 16 and the operators' README table, never read from
 * policies/admin.cedar: the matrix's independent oracle for the admin plane. A test compares it with
 * `adminExpectations()` (which asks the policies) and fails on any disagreement, so a policy change shows up here.
 */

/** The operator roles the product defines. */
export type AdminRole = 'viewer' | 'responder' | 'pki_officer' | 'security_admin';

/** What an action asks of a caller beyond a role that may take it. */
export type AdminNeed = 'nothing' | 'elevation' | 'approval';

/** One product rule: which roles may take an action, and what they need besides. */
export interface AdminRule {
  roles: readonly AdminRole[];
  needs: AdminNeed;
}

const EVERYONE: readonly AdminRole[] = ['viewer', 'responder', 'pki_officer', 'security_admin'];
const RESPONDERS: readonly AdminRole[] = ['responder', 'security_admin'];
const PKI: readonly AdminRole[] = ['pki_officer', 'security_admin'];
const ADMINS: readonly AdminRole[] = ['security_admin'];

const rule = (roles: readonly AdminRole[], needs: AdminNeed = 'nothing'): AdminRule => ({ roles, needs });

/**
 * The rules in product words:
 * - every operator manages their own session (who am I, sign out, elevate, ask for and give approvals);
 * - a viewer reads everything and changes nothing;
 * - a responder triages and contains (findings, incidents, quarantine, webhook replay), and needs an elevation to
 *   run a playbook, approve a playbook step or release a quarantine;
 * - a PKI officer runs the device lifecycle, needs an elevation to revoke, replace or release a device, and an
 *   elevation plus a second operator's approval to revoke every token of a client (fleet-wide);
 * - a security admin may do all of the above, and with an elevation governs: second factors, federation links,
 *   audit checkpoints, pruning, legal holds, the webhook signing key; and (no elevation: it is read-only) runs
 *   the authorization matrix against a configured staging target from the console.
 * Releasing a device is `pki:transition_device` to `active`: see `DEVICE_RELEASE`; revoking or retiring it through
 * the lifecycle (to `revoked`, `decommissioned`): see `DEVICE_RETIRE`. A responder only quarantines and releases.
 */
export const ADMIN_RULES: Readonly<Record<string, AdminRule>> = {
  'operators:read_self': rule(EVERYONE),
  'operators:sign_out': rule(EVERYONE),
  'operators:elevate': rule(EVERYONE),
  'operators:list_approvals': rule(EVERYONE),
  'operators:request_approval': rule(EVERYONE),
  'operators:approve': rule(EVERYONE),
  'pki:read_device': rule(EVERYONE),
  'audit:read': rule(EVERYONE),
  'telemetry:list_quarantines': rule(EVERYONE),
  'telemetry:read_vehicle_state': rule(EVERYONE),
  'console:read_fleet': rule(EVERYONE),
  'console:read_matrix': rule(EVERYONE),
  'identity:read_links': rule(EVERYONE),
  'detect:read': rule(EVERYONE),
  'incidents:list': rule(EVERYONE),
  'incidents:read': rule(EVERYONE),
  'incidents:list_playbooks': rule(EVERYONE),
  'incidents:dry_run': rule(EVERYONE),
  'incidents:list_runs': rule(EVERYONE),
  'incidents:list_notifications': rule(EVERYONE),
  'incidents:governance': rule(EVERYONE),
  'observability:metrics:read': rule(EVERYONE),
  'webhooks:list_deliveries': rule(EVERYONE),
  'webhooks:status': rule(EVERYONE),
  'inventory:openapi': rule(EVERYONE),
  'inventory:read': rule(EVERYONE),
  'inventory:governance': rule(EVERYONE),
  'detect:update_finding': rule(RESPONDERS),
  'incidents:open': rule(RESPONDERS),
  'incidents:transition': rule(RESPONDERS),
  'incidents:assign': rule(RESPONDERS),
  'incidents:note': rule(RESPONDERS),
  'incidents:attach_finding': rule(RESPONDERS),
  'incidents:scope': rule(RESPONDERS),
  'webhooks:replay': rule(RESPONDERS),
  'incidents:run_playbook': rule(RESPONDERS, 'elevation'),
  'incidents:approve_step': rule(RESPONDERS, 'elevation'),
  'telemetry:release_quarantine': rule(RESPONDERS, 'elevation'),
  'pki:transition_device': rule(['responder', 'pki_officer', 'security_admin']),
  'pki:revoke': rule(PKI, 'elevation'),
  'pki:replace_device': rule(PKI, 'elevation'),
  'commands:manage_keys': rule(PKI, 'elevation'),
  'auth:revoke_client_tokens': rule(PKI, 'approval'),
  'identity:reset_mfa': rule(ADMINS, 'elevation'),
  'identity:link': rule(ADMINS, 'elevation'),
  'audit:checkpoint': rule(ADMINS, 'elevation'),
  'audit:prune': rule(ADMINS, 'elevation'),
  'audit:hold': rule(ADMINS, 'elevation'),
  'webhooks:rotate_key': rule(ADMINS, 'elevation'),
  'console:run_matrix': rule(ADMINS),
};

/** Moving a device back to `active` (a release) is sensitive: these roles may, with an elevation. */
export const DEVICE_RELEASE: AdminRule = rule(['responder', 'pki_officer', 'security_admin'], 'elevation');

/**
 * Approving another operator's request is for someone who could take the action: the probe approves a request to
 * revoke every token of a client (a PKI officer's or admin's), so the approver must hold that role, elevated.
 */
export const APPROVE_CLIENT_REVOCATION: AdminRule = rule(PKI, 'elevation');

/** Revoking or retiring a device through its lifecycle is a PKI officer's or admin's, with an elevation. */
export const DEVICE_RETIRE: AdminRule = rule(PKI, 'elevation');

/** What a caller should see: allowed, or the refusal the admin plane names. */
export type AdminOutcome = 'allowed' | 'elevation-required' | 'approval-required' | 'forbidden';

/** The expected outcome of `action` for a caller with `roles`, elevated or not (a certificate always is). */
export function adminOutcome(r: AdminRule | undefined, roles: readonly AdminRole[], elevated: boolean): AdminOutcome {
  // An action with no rule is denied: deny by default, here as in the product.
  if (!r || !roles.some((role) => r.roles.includes(role))) return 'forbidden';
  if (r.needs === 'nothing') return 'allowed';
  if (!elevated) return 'elevation-required';
  return r.needs === 'approval' ? 'approval-required' : 'allowed';
}
