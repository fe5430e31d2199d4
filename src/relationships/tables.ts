/** The kinds of relationship that give a party access to a vehicle or account (DESIGN: Relationships). */
export const RELATIONSHIP_KINDS = ['ownership', 'delegation', 'fleet_vehicle', 'fleet_group_member', 'service_case', 'support_case', 'partner_grant'] as const;
/** One relationship kind. */
export type RelationshipKind = (typeof RELATIONSHIP_KINDS)[number];

/**
 * One relationship, with its whole history: who granted it and when, until when it is valid, and who ended
 * it, when and why. Rows are never deleted; ending a relationship sets `ended_*`.
 */
export interface RelationshipRow {
  id: string;
  kind: RelationshipKind;
  /** The party that gains access: a user (owner, driver, member, agent), a tenant (fleet, dealer) or an application (partner). */
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

/** Tables owned by the relationships module. */
export interface RelationshipTables {
  relationships: RelationshipRow;
  fleet_groups: FleetGroupRow;
}
