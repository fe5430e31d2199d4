import {
  actionsFor,
  createDecisionPoint,
  type Decision,
  type DecisionPoint,
  loadPolicySet,
  type PolicySet,
} from '../policy/index.js';
import { OPERATOR_ROLES, type OperatorRole } from './tables.js';

/** What Cedar is told about an operator and a request beyond the action. */
export interface AdminFacts {
  kind: 'person' | 'certificate';
  roles: readonly OperatorRole[];
  /** A person's active elevation (certificates are judged as elevated: their bound role is a standing grant). */
  elevated: boolean;
  approved: boolean;
  targetStatus?: string;
}

/** What an operator needs, besides their roles, to take an admin action: nothing more, an elevation, or approval. */
export type AdminNeed = 'nothing' | 'elevation' | 'approval';

/** One admin action an operator may take, as the console is told (`targetStatus` for a device's lifecycle). */
export interface AdminPermission {
  action: string;
  targetStatus?: string;
  needs: AdminNeed;
}

/** Where a device's lifecycle can go: the one context attribute the admin policies judge besides the action. */
const DEVICE_TARGETS = ['quarantined', 'active', 'revoked', 'decommissioned'] as const;

/** Why an admin action was refused, as the problem type the console shows. */
export type AdminRefusal = 'ERR_ELEVATION_REQUIRED' | 'ERR_APPROVAL_REQUIRED' | 'ERR_FORBIDDEN';

/** The admin plane's decisions: every admin action of every operator, asked of policies/admin.cedar. */
export function createAdminAuthorization(deps: { decisions: Pick<DecisionPoint, 'decide'>; policySet: PolicySet }) {
  const actions = actionsFor(deps.policySet, 'Operator');
  const decide = (id: string, action: string, f: AdminFacts): Decision =>
    deps.decisions.decide({
      principal: { type: 'Operator', id },
      action,
      resource: { type: 'AdminPlane', id: 'admin' },
      context: {
        elevated: f.elevated,
        approved: f.approved,
        ...(f.targetStatus !== undefined ? { targetStatus: f.targetStatus } : {}),
      },
      entities: [
        { uid: { type: 'Operator', id }, attrs: { kind: f.kind, roles: [...f.roles] } },
        { uid: { type: 'AdminPlane', id: 'admin' }, attrs: {} },
      ],
    });
  const rolePerson = (role: OperatorRole, elevated: boolean, approved: boolean): AdminFacts => ({
    kind: 'person',
    roles: [role],
    elevated,
    approved,
  });
  // A device's lifecycle action is judged by its everyday use (quarantine); see adminExpectations for the rest.
  const allowedTo = (role: OperatorRole, action: string, elevated: boolean, approved: boolean) =>
    decide(`probe:${role}`, action, {
      ...rolePerson(role, elevated, approved),
      ...(action === 'pki:transition_device' ? { targetStatus: 'quarantined' } : {}),
    }).decision === 'allow';
  return {
    /** Every admin action the schema declares for operators. */
    actions: new Set(actions.keys()),
    decide,
    /** Why `facts` were refused `action`: what would have allowed it (elevation, then approval), else forbidden. */
    refusalOf(id: string, action: string, facts: AdminFacts): AdminRefusal {
      if (!facts.elevated && decide(id, action, { ...facts, elevated: true }).decision === 'allow')
        return 'ERR_ELEVATION_REQUIRED';
      if (decide(id, action, { ...facts, elevated: true, approved: true }).decision === 'allow')
        return facts.elevated || facts.kind === 'certificate' ? 'ERR_APPROVAL_REQUIRED' : 'ERR_ELEVATION_REQUIRED';
      return 'ERR_FORBIDDEN';
    },
    /**
     * Every admin action this operator may take and what it still needs, decided by Cedar for their roles and their
     * current elevation: what the console shows or hides. The server still decides each request.
     */
    permissionsOf(id: string, facts: Pick<AdminFacts, 'kind' | 'roles' | 'elevated'>): AdminPermission[] {
      const out: AdminPermission[] = [];
      for (const action of [...actions.keys()].sort()) {
        const targets = action === 'pki:transition_device' ? DEVICE_TARGETS : [undefined];
        for (const targetStatus of targets) {
          const allows = (elevated: boolean, approved: boolean) =>
            decide(id, action, { ...facts, elevated, approved, ...(targetStatus ? { targetStatus } : {}) }).decision ===
            'allow';
          const needs: AdminNeed | null = allows(facts.elevated, false)
            ? 'nothing'
            : allows(true, false)
              ? 'elevation'
              : allows(true, true)
                ? 'approval'
                : null;
          if (needs) out.push({ action, ...(targetStatus ? { targetStatus } : {}), needs });
        }
      }
      return out;
    },
    /** The admin actions each role may take (with elevation and approval where they are needed), from the policy. */
    actionsByRole(): Record<OperatorRole, string[]> {
      const out = {} as Record<OperatorRole, string[]>;
      for (const role of OPERATOR_ROLES)
        out[role] = [...actions.keys()].filter((a) => allowedTo(role, a, true, true)).sort();
      return out;
    },
    /** Actions that need an elevation: allowed to a security admin only when elevated. */
    sensitiveActions(): string[] {
      return [...actions.keys()]
        .filter((a) => allowedTo('security_admin', a, true, true) && !allowedTo('security_admin', a, false, true))
        .sort();
    },
    /** Actions that need a second operator's approval (the two-person rule). */
    fleetWideActions(): Set<string> {
      return new Set(
        [...actions.keys()].filter(
          (a) => allowedTo('security_admin', a, true, true) && !allowedTo('security_admin', a, true, false),
        ),
      );
    },
  };
}

/** The admin plane's decision point. */
export type AdminAuthorization = ReturnType<typeof createAdminAuthorization>;

/** What one role may do on the admin plane, as the authorization matrix checks it. */
export interface RoleExpectation {
  /** Allowed as is (no elevation, no approval). */
  allowed: string[];
  /** Allowed only with an active elevation (a person's; certificates count as elevated). */
  withElevation: string[];
  /** Allowed only with an elevation and a second operator's approval. */
  withApproval: string[];
  /** Never allowed to this role. */
  denied: string[];
}

/**
 * The admin actions per role, read from the policies (the shipped ones by default): what the authorization matrix
 * expects of the admin plane. Releasing a device (pki:transition_device to `active`) needs elevation besides: see
 * `releaseNeedsElevation`.
 */
export function adminExpectations(policySet: PolicySet = loadPolicySet()): Record<OperatorRole, RoleExpectation> & {
  releaseNeedsElevation: OperatorRole[];
  /** Roles that may revoke or retire a device through its lifecycle, only when elevated. */
  retireNeedsElevation: OperatorRole[];
} {
  const authz = createAdminAuthorization({ decisions: createDecisionPoint(policySet), policySet });
  const allows = (role: OperatorRole, action: string, elevated: boolean, approved: boolean, targetStatus?: string) =>
    authz.decide(`probe:${role}`, action, {
      kind: 'person',
      roles: [role],
      elevated,
      approved,
      ...(targetStatus ? { targetStatus } : {}),
    }).decision === 'allow';
  const out = {} as Record<OperatorRole, RoleExpectation>;
  for (const role of OPERATOR_ROLES) {
    const e: RoleExpectation = { allowed: [], withElevation: [], withApproval: [], denied: [] };
    for (const action of [...authz.actions].sort()) {
      // A device's lifecycle is judged by where it goes: its everyday use (quarantine) here, the rest below.
      const to = action === 'pki:transition_device' ? 'quarantined' : undefined;
      if (allows(role, action, false, false, to)) e.allowed.push(action);
      else if (allows(role, action, true, false, to)) e.withElevation.push(action);
      else if (allows(role, action, true, true, to)) e.withApproval.push(action);
      else e.denied.push(action);
    }
    out[role] = e;
  }
  const releaseNeedsElevation = OPERATOR_ROLES.filter(
    (r) =>
      allows(r, 'pki:transition_device', true, false, 'active') &&
      !allows(r, 'pki:transition_device', false, false, 'active'),
  );
  const retire = (r: OperatorRole, elevated: boolean) =>
    ['revoked', 'decommissioned'].every((to) => allows(r, 'pki:transition_device', elevated, false, to));
  const retireNeedsElevation = OPERATOR_ROLES.filter((r) => retire(r, true) && !retire(r, false));
  return { ...out, releaseNeedsElevation, retireNeedsElevation };
}
