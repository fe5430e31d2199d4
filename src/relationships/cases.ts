import type { Kysely } from 'kysely';
import type { Cluster } from '../cluster/index.js';
import type { Clock } from '../platform/index.js';
import { CarapaceError } from '../platform/index.js';
import { newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { RelationshipAuditLog } from './audit-events.js';
import type { CommandName } from '../wire/index.js';
import { findMember, findUserByEmail, tenantsWhereRole } from '../identity/index.js';
import type { VehicleLookup } from './ports.js';
import type { Actor } from './access.js';
import type { RelationshipStore } from './store.js';
import type { ServiceCaseRow, SupportCaseRow } from './tables.js';

const DAY_MS = 24 * 3600_000;
/** Longest time box an owner can consent to for a service case. */
export const MAX_SERVICE_CASE_DAYS = 30;
/** Longest a just-in-time approval lasts. */
export const MAX_APPROVAL_MINUTES = 15;

/** How many service requests a dealer may send per window: in all, and naming one VIN. */
export interface ServiceRequestLimits {
  perDealer: number;
  perVin: number;
  windowSeconds: number;
}

/** Dealer service cases and support cases: their lifecycles, each step audited with the access it grants or ends. */
export function createCases(deps: {
  db: Kysely<Database>;
  audit: RelationshipAuditLog;
  clock: Clock;
  relationships: RelationshipStore;
  vehicles: VehicleLookup;
  /** The commands a just-in-time approval may name: the catalog's `delegable` ones, from the composition root. */
  approvableCommands: readonly CommandName[];
  /** Where the service-request counters live (shared by every process; they fail closed). */
  cluster: Cluster;
  requestLimits: ServiceRequestLimits;
}) {
  const { db, audit, clock } = deps;
  const refused = () =>
    new CarapaceError('ERR_CASE_REFUSED', 'the case cannot be opened for that account, vehicle or assignee');
  const endAccess = async (trx: Kysely<Database>, relId: string | null, by: string, reason: string, at: string) => {
    const row = relId
      ? await trx.selectFrom('relationships').selectAll().where('id', '=', relId).executeTakeFirst()
      : null;
    if (row) await deps.relationships.endWithin(trx, { type: 'user', id: by }, row, reason, at);
  };

  /**
   * Counts the request before anything is looked up (reserve, then check: concurrent requests cannot all pass),
   * per dealer and VIN, known or not (so the limit says nothing about whether the VIN exists), then per dealer.
   */
  async function admitServiceRequest(actor: Actor, dealerTenantId: string, vin: string): Promise<void> {
    const { perDealer, perVin, windowSeconds } = deps.requestLimits;
    const now = clock.now().getTime();
    const count = (key: string) => deps.cluster.countWindow(`service-request:${key}`, 1, windowSeconds, now);
    const one = await count(`${dealerTenantId}:${vin.slice(0, 17)}`);
    const all = one.count <= perVin ? await count(dealerTenantId) : null;
    if (all && all.count <= perDealer) return;
    await audit.append(db, {
      type: 'relationships.service_case.limited',
      actor: { type: 'user', id: actor.userId },
      applicationId: actor.clientId,
      tenantId: dealerTenantId,
      object: { type: 'tenant', id: dealerTenantId },
      action: 'service_case:request',
      decision: 'deny',
      reason: all ? 'dealer_limit' : 'vin_limit',
      context: actor.context ?? null,
      details: { vin: vin.slice(0, 17) },
    });
    throw new CarapaceError('ERR_SERVICE_REQUEST_LIMITED', 'too many service requests from this dealer; retry later', {
      retryAfter: Math.ceil((all ?? one).resetInMs / 1000),
    });
  }

  return {
    /** The commands a just-in-time approval may name (the request schema is built from them). */
    approvableCommands: deps.approvableCommands,
    /**
     * A dealer asks to service a vehicle, named by VIN. It grants nothing until the owner consents. An
     * unknown VIN gets a case too (one that can never be consented), so the answer never says whether a VIN exists.
     */
    async requestService(
      actor: Actor,
      dealerTenantId: string,
      args: { vin: string; reason: string },
    ): Promise<ServiceCaseRow> {
      const vin = args.vin.trim().toUpperCase();
      await admitServiceRequest(actor, dealerTenantId, vin);
      const vehicle = await deps.vehicles.findByVin(db, vin);
      const row: ServiceCaseRow = {
        id: newId(),
        dealer_tenant_id: dealerTenantId,
        vehicle_id: vehicle?.id ?? null,
        reason: args.reason,
        status: 'requested',
        requested_by: `user:${actor.userId}`,
        requested_at: clock.now().toISOString(),
        consented_by: null,
        consented_at: null,
        closes_at: null,
        closed_at: null,
        closed_by: null,
        resolution: null,
        relationship_id: null,
      };
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('service_cases').values(row).execute();
        await audit.append(trx, {
          type: 'relationships.service_case.requested',
          actor: { type: 'user', id: actor.userId },
          applicationId: actor.clientId,
          tenantId: dealerTenantId,
          object: { type: 'service_case', id: row.id },
          action: 'service_case:request',
          decision: 'allow',
          context: actor.context ?? null,
          // The VIN asked for (known or not), for the enumeration detection; the answer still never tells.
          details: { vin },
        });
      });
      return row;
    },

    /**
     * The owner consents: the dealer may reach this one vehicle for diagnostics until the case closes or the time box
     * ends.
     */
    async consentService(actor: Actor, sc: ServiceCaseRow, days: number): Promise<ServiceCaseRow> {
      if (!sc.vehicle_id) throw new CarapaceError('ERR_NOT_FOUND', 'no such resource');
      if (!Number.isInteger(days) || days < 1 || days > MAX_SERVICE_CASE_DAYS)
        throw new CarapaceError('ERR_VALIDATION', `days is 1 to ${MAX_SERVICE_CASE_DAYS}`, { field: 'days' });
      const now = clock.now();
      const closesAt = new Date(now.getTime() + days * DAY_MS).toISOString();
      return db.transaction().execute(async (trx) => {
        const rel = await deps.relationships.grant(
          { type: 'user', id: actor.userId },
          {
            kind: 'service_case',
            tenantId: sc.dealer_tenant_id,
            vehicleId: sc.vehicle_id,
            attributes: { caseId: sc.id, ownerConsent: true },
            validUntil: new Date(closesAt),
          },
          trx,
        );
        const r = await trx
          .updateTable('service_cases')
          .set({
            status: 'open',
            consented_by: `user:${actor.userId}`,
            consented_at: now.toISOString(),
            closes_at: closesAt,
            relationship_id: rel.id,
          })
          .where('id', '=', sc.id)
          .where('status', '=', 'requested')
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) !== 1)
          throw new CarapaceError('ERR_CONFLICT', 'the case is no longer waiting for consent');
        return {
          ...sc,
          status: 'open' as const,
          consented_by: `user:${actor.userId}`,
          consented_at: now.toISOString(),
          closes_at: closesAt,
          relationship_id: rel.id,
        };
      });
    },

    /** Closes a service case (dealer or owner); the dealer's access ends with it. */
    async closeService(actor: Actor, sc: ServiceCaseRow, resolution: string): Promise<void> {
      const at = clock.now().toISOString();
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('service_cases')
          .set({
            status: sc.status === 'requested' ? 'refused' : 'closed',
            closed_at: at,
            closed_by: `user:${actor.userId}`,
            resolution,
          })
          .where('id', '=', sc.id)
          .execute();
        await endAccess(trx, sc.relationship_id, actor.userId, 'service case closed', at);
        await audit.append(trx, {
          type: 'relationships.service_case.closed',
          actor: { type: 'user', id: actor.userId },
          applicationId: actor.clientId,
          object: { type: 'service_case', id: sc.id },
          action: 'service_case:close',
          decision: 'allow',
          reason: resolution,
        });
      });
    },

    /**
     * A security admin opens a support case about an account (and optionally one vehicle it owns) and
     * assigns it to an agent of the operator. One refusal for every reason, so the route is no directory oracle.
     */
    async openSupport(
      actor: Actor,
      operatorTenantId: string,
      args: { accountEmail: string; assigneeEmail: string; vehicleId?: string; summary: string },
    ): Promise<SupportCaseRow> {
      const [account, assignee] = await Promise.all([
        findUserByEmail(db, args.accountEmail),
        findMember(db, { email: args.assigneeEmail, tenantId: operatorTenantId, role: 'support_agent' }),
      ]);
      if (!account || !assignee || assignee.id === account.id) throw refused();
      // Separation of duties: the admin who opens a case never works it, and no security admin is an agent on one.
      const assigneeIsAdmin = (await tenantsWhereRole(db, assignee.id, 'security_admin')).length > 0;
      if (assignee.id === actor.userId || assigneeIsAdmin) throw refused();
      const at = clock.now().toISOString();
      if (args.vehicleId) {
        const owns = await db
          .selectFrom('relationships')
          .select(['id'])
          .where('vehicle_id', '=', args.vehicleId)
          .where('user_id', '=', account.id)
          .where('kind', '=', 'ownership')
          .where('ended_at', 'is', null)
          .where('valid_from', '<=', at)
          .executeTakeFirst();
        if (!owns) throw refused();
      }
      return db.transaction().execute(async (trx) => {
        const rel = await deps.relationships.grant(
          { type: 'user', id: actor.userId },
          { kind: 'support_case', userId: assignee.id, accountId: account.id, vehicleId: args.vehicleId ?? null },
          trx,
        );
        const row: SupportCaseRow = {
          id: newId(),
          operator_tenant_id: operatorTenantId,
          account_id: account.id,
          vehicle_id: args.vehicleId ?? null,
          assignee_id: assignee.id,
          summary: args.summary,
          status: 'open',
          opened_by: `user:${actor.userId}`,
          opened_at: at,
          closed_at: null,
          closed_by: null,
          resolution: null,
          relationship_id: rel.id,
        };
        await trx.insertInto('support_cases').values(row).execute();
        await trx
          .updateTable('relationships')
          .set({ attributes: JSON.stringify({ caseId: row.id }) })
          .where('id', '=', rel.id)
          .execute();
        await audit.append(trx, {
          type: 'relationships.support_case.opened',
          actor: { type: 'user', id: actor.userId },
          applicationId: actor.clientId,
          tenantId: operatorTenantId,
          object: { type: 'support_case', id: row.id },
          action: 'support_case:open',
          decision: 'allow',
          details: { assignee: assignee.id, account: account.id },
        });
        return row;
      });
    },

    /** Closes a support case: the agent's access and any unused approvals end with it. */
    async closeSupport(actor: Actor, sc: SupportCaseRow, resolution: string): Promise<void> {
      const at = clock.now().toISOString();
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('support_cases')
          .set({ status: 'closed', closed_at: at, closed_by: `user:${actor.userId}`, resolution })
          .where('id', '=', sc.id)
          .execute();
        await endAccess(trx, sc.relationship_id, actor.userId, 'support case closed', at);
        await trx
          .updateTable('jit_approvals')
          .set({ expires_at: at })
          .where('support_case_id', '=', sc.id)
          .where('used_at', 'is', null)
          .where('expires_at', '>', at)
          .execute();
        await audit.append(trx, {
          type: 'relationships.support_case.closed',
          actor: { type: 'user', id: actor.userId },
          applicationId: actor.clientId,
          object: { type: 'support_case', id: sc.id },
          action: 'support_case:close',
          decision: 'allow',
          reason: resolution,
        });
      });
    },

    /**
     * A security admin approves one physical command for the case's agent on the case's vehicle, for minutes; recorded.
     */
    async approveCommand(
      actor: Actor,
      sc: SupportCaseRow,
      args: { command: string; reason: string; minutes?: number },
    ): Promise<Database['jit_approvals']> {
      if (!(deps.approvableCommands as readonly string[]).includes(args.command))
        throw new CarapaceError('ERR_VALIDATION', `command must be one of: ${deps.approvableCommands.join(', ')}`, {
          field: 'command',
        });
      if (!sc.vehicle_id)
        throw new CarapaceError(
          'ERR_CASE_REFUSED',
          'this case is about an account, not a vehicle: there is nothing to command',
        );
      // The vehicle must still belong to the account the case is about (a transfer takes it out of the case).
      const at = clock.now().toISOString();
      const owns = await db
        .selectFrom('relationships')
        .select(['id'])
        .where('vehicle_id', '=', sc.vehicle_id)
        .where('user_id', '=', sc.account_id)
        .where('kind', '=', 'ownership')
        .where('ended_at', 'is', null)
        .where('valid_from', '<=', at)
        .executeTakeFirst();
      if (!owns) throw new CarapaceError('ERR_CASE_REFUSED', "the case's vehicle no longer belongs to its account");
      const minutes = args.minutes ?? 10;
      if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_APPROVAL_MINUTES)
        throw new CarapaceError('ERR_VALIDATION', `minutes is 1 to ${MAX_APPROVAL_MINUTES}`, { field: 'minutes' });
      const now = clock.now();
      const row = {
        id: newId(),
        support_case_id: sc.id,
        agent_id: sc.assignee_id,
        vehicle_id: sc.vehicle_id,
        command: args.command,
        reason: args.reason,
        approved_by: actor.userId,
        approved_at: now.toISOString(),
        expires_at: new Date(now.getTime() + minutes * 60_000).toISOString(),
        used_at: null,
      };
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('jit_approvals').values(row).execute();
        await audit.append(trx, {
          type: 'relationships.support_case.command_approved',
          actor: { type: 'user', id: actor.userId },
          applicationId: actor.clientId,
          object: { type: 'support_case', id: sc.id },
          action: 'support_case:approve_command',
          decision: 'allow',
          reason: args.reason,
          details: {
            approvalId: row.id,
            agent: sc.assignee_id,
            vehicle: sc.vehicle_id,
            command: args.command,
            expiresAt: row.expires_at,
          },
        });
      });
      return row;
    },
  };
}

/** Case lifecycles. */
export type Cases = ReturnType<typeof createCases>;
