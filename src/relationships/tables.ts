/** The kinds of relationship that give a party access to a vehicle or account (DESIGN: Relationships). */
export const RELATIONSHIP_KINDS = [
  'ownership',
  'delegation',
  'fleet_vehicle',
  'fleet_group_member',
  'service_case',
  'support_case',
  'partner_grant',
] as const;
/** One relationship kind. */
export type RelationshipKind = (typeof RELATIONSHIP_KINDS)[number];

/**
 * One relationship, with its whole history: who granted it and when, until when it is valid, and who ended
 * it, when and why. Rows are never deleted; ending a relationship sets `ended_*`.
 */
export interface RelationshipRow {
  id: string;
  kind: RelationshipKind;
  /**
   * The party that gains access: a user (owner, driver, member, agent), a tenant (fleet, dealer) or an application
   * (partner).
   */
  user_id: string | null;
  tenant_id: string | null;
  application_id: string | null;
  /** What access is to: a vehicle, a fleet group, or (support cases) a user's account. */
  vehicle_id: string | null;
  group_id: string | null;
  account_id: string | null;
  /** Kind-specific JSON: delegation commands, partner scopes, case state and consent. */
  attributes: string;
  granted_by: string;
  granted_at: string;
  valid_from: string;
  valid_until: string | null;
  ended_at: string | null;
  ended_by: string | null;
  end_reason: string | null;
}

/** A named group of a fleet's vehicles. */
export interface FleetGroupRow {
  id: string;
  tenant_id: string;
  name: string;
  created_at: string;
}

/** An owner's single-use invitation of a driver; the code is stored only as a hash. */
export interface DelegationInviteRow {
  id: string;
  vehicle_id: string;
  invitee_email: string;
  code_hash: string;
  /** JSON array of the delegated command names. */
  commands: string;
  /** The delegation's window, fixed by the owner when inviting; accepting cannot change it. */
  valid_from: string;
  valid_until: string;
  /** When the invite itself can no longer be accepted. */
  expires_at: string;
  status: 'pending' | 'accepted' | 'revoked';
  created_by: string;
  created_at: string;
  accepted_by: string | null;
  accepted_at: string | null;
  relationship_id: string | null;
}

/** A claim code shown inside a vehicle, stored only as a hash; single use. */
export interface ClaimCodeRow {
  id: string;
  vehicle_id: string;
  code_hash: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  used_by: string | null;
}

/** A dealer's service case: requested, then consented by the owner (open) until closed or its time box ends. */
export interface ServiceCaseRow {
  id: string;
  dealer_tenant_id: string;
  /** Null when the requested VIN matched no vehicle: the case exists so the answer is the same, but grants nothing. */
  vehicle_id: string | null;
  reason: string;
  status: 'requested' | 'open' | 'closed' | 'refused';
  requested_by: string;
  requested_at: string;
  consented_by: string | null;
  consented_at: string | null;
  closes_at: string | null;
  closed_at: string | null;
  closed_by: string | null;
  resolution: string | null;
  relationship_id: string | null;
}

/** A support case about an account (and optionally one of its vehicles), assigned to one agent. */
export interface SupportCaseRow {
  id: string;
  operator_tenant_id: string;
  account_id: string;
  vehicle_id: string | null;
  assignee_id: string;
  summary: string;
  status: 'open' | 'closed';
  opened_by: string;
  opened_at: string;
  closed_at: string | null;
  closed_by: string | null;
  resolution: string | null;
  relationship_id: string | null;
}

/** A security admin's approval for one agent to send one command to one vehicle, briefly. */
export interface JitApprovalRow {
  id: string;
  support_case_id: string;
  agent_id: string;
  vehicle_id: string;
  command: string;
  reason: string;
  approved_by: string;
  approved_at: string;
  expires_at: string;
  used_at: string | null;
}

/** Tables owned by the relationships module. */
export interface RelationshipTables {
  relationships: RelationshipRow;
  fleet_groups: FleetGroupRow;
  delegation_invites: DelegationInviteRow;
  claim_codes: ClaimCodeRow;
  service_cases: ServiceCaseRow;
  support_cases: SupportCaseRow;
  jit_approvals: JitApprovalRow;
}

declare module '../storage/index.js' {
  /** This module's tables, as part of the one database every module shares (each touches only its own). */
  interface Database extends RelationshipTables {}
}
