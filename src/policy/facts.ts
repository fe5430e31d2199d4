import type { Database } from '../storage/index.js';

/** Which relationships to read; every field given narrows the result. */
export interface RelationshipQuery {
  id?: string;
  kind?: Database['relationships']['kind'];
  vehicleIds?: readonly string[];
  userId?: string;
  applicationId?: string;
  accountId?: string;
}

/**
 * What the entity loader reads, from the modules that own it: the directory (users, memberships, tenants,
 * applications), the vehicle registry and the relationship store. A port, built by the composition root from
 * those modules' exported reads, so the policy module queries no table and imports none of them.
 */
export interface AuthorizationFacts {
  user(id: string): Promise<{ id: string; email: string; displayName: string; status: string } | undefined>;
  memberships(userId: string): Promise<Array<{ tenantId: string; role: string }>>;
  application(clientId: string): Promise<{ client_id: string; kind: string; tenant_id: string } | undefined>;
  tenant(id: string): Promise<{ id: string; name: string; kind: string } | undefined>;
  operatorTenantId(): Promise<string | undefined>;
  vehicles(ids: readonly string[]): Promise<Array<{ id: string; vin: string | null }>>;
  relationshipsInForce(at: string, query: RelationshipQuery): Promise<Array<Database['relationships']>>;
  /** The relationships in force at `at` and those that start later (what the entity cache keeps). */
  relationshipsNotOver(at: string, query: RelationshipQuery): Promise<Array<Database['relationships']>>;
  fleetGroup(id: string): Promise<Database['fleet_groups'] | undefined>;
  /** The tenant invitation a one-time code names (the code is looked up by its hash, never stored). */
  invitation(code: string): Promise<Database['invitations'] | undefined>;
  delegationInvite(id: string): Promise<Database['delegation_invites'] | undefined>;
  serviceCase(id: string): Promise<Database['service_cases'] | undefined>;
  supportCase(id: string): Promise<Database['support_cases'] | undefined>;
  openApproval(args: {
    agentId: string;
    vehicleId: string;
    command: string;
    at: string;
  }): Promise<Database['jit_approvals'] | undefined>;
}
