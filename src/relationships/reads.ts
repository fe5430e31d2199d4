/**
 * What other modules may read of the relationship tables: relationships in force, fleet groups, delegation invites,
 * service and support cases, just-in-time approvals. Each function takes the caller's database handle or
 * transaction; the policy module reaches them only through the facts port the composition root builds.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import type {
  DelegationInviteRow,
  FleetGroupRow,
  JitApprovalRow,
  RelationshipKind,
  RelationshipRow,
  ServiceCaseRow,
  SupportCaseRow,
} from './tables.js';

/** Which relationships to read; every field given narrows the result. */
export interface RelationshipFilter {
  id?: string;
  kind?: RelationshipKind;
  vehicleIds?: readonly string[];
  userId?: string;
  applicationId?: string;
  accountId?: string;
}

/** The relationships in force at `at` (started, not past their end, not ended), oldest grant first. */
export async function relationshipsInForce(
  db: Kysely<Database>,
  at: string,
  filter: RelationshipFilter,
): Promise<RelationshipRow[]> {
  return relationshipsSelected(db, at, filter, true);
}

/**
 * The relationships not over at `at`: those in force and those that start later, oldest grant first. What a cache
 * keeps, so that it can tell which are in force at any later moment without asking again.
 */
export async function relationshipsNotOver(
  db: Kysely<Database>,
  at: string,
  filter: RelationshipFilter,
): Promise<RelationshipRow[]> {
  return relationshipsSelected(db, at, filter, false);
}

async function relationshipsSelected(
  db: Kysely<Database>,
  at: string,
  filter: RelationshipFilter,
  started: boolean,
): Promise<RelationshipRow[]> {
  if (filter.vehicleIds && filter.vehicleIds.length === 0) return [];
  let q = db
    .selectFrom('relationships')
    .selectAll()
    .where((eb) => eb.or([eb('valid_until', 'is', null), eb('valid_until', '>', at)]))
    .where((eb) => eb.or([eb('ended_at', 'is', null), eb('ended_at', '>', at)]));
  if (started) q = q.where('valid_from', '<=', at);
  if (filter.id !== undefined) q = q.where('id', '=', filter.id);
  if (filter.kind !== undefined) q = q.where('kind', '=', filter.kind);
  if (filter.vehicleIds) q = q.where('vehicle_id', 'in', [...filter.vehicleIds]);
  if (filter.userId !== undefined) q = q.where('user_id', '=', filter.userId);
  if (filter.applicationId !== undefined) q = q.where('application_id', '=', filter.applicationId);
  if (filter.accountId !== undefined) q = q.where('account_id', '=', filter.accountId);
  return q.orderBy('granted_at').orderBy('id').execute();
}

/** A fleet group by id, or undefined. */
export async function findFleetGroup(db: Kysely<Database>, id: string): Promise<FleetGroupRow | undefined> {
  return db.selectFrom('fleet_groups').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A delegation invite by id, or undefined. */
export async function findDelegationInvite(db: Kysely<Database>, id: string): Promise<DelegationInviteRow | undefined> {
  return db.selectFrom('delegation_invites').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A dealer service case by id, or undefined. */
export async function findServiceCase(db: Kysely<Database>, id: string): Promise<ServiceCaseRow | undefined> {
  return db.selectFrom('service_cases').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A support case by id, or undefined. */
export async function findSupportCase(db: Kysely<Database>, id: string): Promise<SupportCaseRow | undefined> {
  return db.selectFrom('support_cases').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The newest unused, unexpired just-in-time approval of one command for an agent on a vehicle, or undefined. */
export async function openApproval(
  db: Kysely<Database>,
  args: { agentId: string; vehicleId: string; command: string; at: string },
): Promise<JitApprovalRow | undefined> {
  return db
    .selectFrom('jit_approvals')
    .selectAll()
    .where('agent_id', '=', args.agentId)
    .where('vehicle_id', '=', args.vehicleId)
    .where('command', '=', args.command)
    .where('used_at', 'is', null)
    .where('expires_at', '>', args.at)
    .orderBy('approved_at', 'desc')
    .executeTakeFirst();
}

/** A just-in-time approval by id while it has not expired (used or not: a job keeps the approval it consumed). */
export async function findLiveApproval(
  db: Kysely<Database>,
  id: string,
  at: string,
): Promise<JitApprovalRow | undefined> {
  return db
    .selectFrom('jit_approvals')
    .selectAll()
    .where('id', '=', id)
    .where('expires_at', '>', at)
    .executeTakeFirst();
}

/** The vehicles of a fleet group of a tenant (none for a group that is not the tenant's). */
export async function groupVehicleIds(
  db: Kysely<Database>,
  args: { groupId: string; tenantId: string },
): Promise<string[]> {
  const group = await db
    .selectFrom('fleet_groups')
    .select(['id'])
    .where('id', '=', args.groupId)
    .where('tenant_id', '=', args.tenantId)
    .executeTakeFirst();
  if (!group) return [];
  const rows = await db
    .selectFrom('relationships')
    .select(['vehicle_id'])
    .where('group_id', '=', group.id)
    .where('kind', '=', 'fleet_vehicle')
    .where('ended_at', 'is', null)
    .execute();
  return [...new Set(rows.map((r) => r.vehicle_id).filter((v): v is string => v !== null))];
}

/**
 * Marks a just-in-time approval used, in the caller's transaction: true when this call used it, false when it was
 * already used (a second job cannot ride on one approval).
 */
export async function consumeApproval(db: Kysely<Database>, id: string, at: string): Promise<boolean> {
  const used = await db
    .updateTable('jit_approvals')
    .set({ used_at: at })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(used.numUpdatedRows) === 1;
}

/**
 * The vehicles a party has any relationship with now, in id order after `after`, at most `limit`: a partner
 * application, or a person and the tenants they belong to. Candidates only: whether the party may see each one
 * is the policies' decision.
 */
export async function vehiclesRelatedTo(
  db: Kysely<Database>,
  at: string,
  party: { applicationId: string } | { userId: string; tenantIds: readonly string[] },
  page: { after: string; limit: number },
): Promise<string[]> {
  const rows = await db
    .selectFrom('relationships')
    .select(['vehicle_id'])
    .distinct()
    .where('vehicle_id', 'is not', null)
    .where('vehicle_id', '>', page.after)
    .where('ended_at', 'is', null)
    .where('valid_from', '<=', at)
    .where((eb) => eb.or([eb('valid_until', 'is', null), eb('valid_until', '>', at)]))
    .where((eb) =>
      'applicationId' in party
        ? eb('application_id', '=', party.applicationId)
        : eb.or([
            eb('user_id', '=', party.userId),
            ...(party.tenantIds.length ? [eb('tenant_id', 'in', [...party.tenantIds])] : []),
          ]),
    )
    .orderBy('vehicle_id')
    .limit(page.limit)
    .execute();
  return rows.map((r) => r.vehicle_id as string);
}
