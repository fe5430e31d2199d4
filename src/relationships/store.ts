import type { Kysely } from 'kysely';
import type { Clock } from '../platform/index.js';
import { CarapaceError } from '../platform/index.js';
import { newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { RelationshipAuditLog } from './audit-events.js';
import { tenantsWhereRole } from '../identity/index.js';
import { RELATIONSHIP_KINDS, type RelationshipKind, type RelationshipRow } from './tables.js';

/** A relationship to create. */
export interface NewRelationship {
  kind: RelationshipKind;
  userId?: string | null;
  tenantId?: string | null;
  applicationId?: string | null;
  vehicleId?: string | null;
  groupId?: string | null;
  accountId?: string | null;
  attributes?: Record<string, unknown>;
  validFrom?: Date;
  validUntil?: Date | null;
}

/** Who grants or ends a relationship. */
export interface RelationshipActor {
  type: 'user' | 'operator' | 'system';
  id: string;
}

/** The relationship store: grant, end, and read what is in force at a moment. History is never rewritten. */
export function createRelationshipStore(deps: { db: Kysely<Database>; audit: RelationshipAuditLog; clock: Clock }) {
  /**
   * Ends one relationship inside the caller's transaction, with its own audit event (kind, vehicle, tenant, who
   * it was for, why): every way a relationship ends goes through here. False when it had ended already.
   */
  async function endWithin(
    trx: Kysely<Database>,
    actor: RelationshipActor,
    row: RelationshipRow,
    reason: string,
    at: string,
  ): Promise<boolean> {
    const r = await trx
      .updateTable('relationships')
      .set({ ended_at: at, ended_by: `${actor.type}:${actor.id}`, end_reason: reason })
      .where('id', '=', row.id)
      .where('ended_at', 'is', null)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return false;
    await deps.audit.append(trx, {
      type: 'relationships.ended',
      actor: { type: actor.type, id: actor.id },
      tenantId: row.tenant_id,
      object: { type: 'relationship', id: row.id },
      action: 'end',
      decision: 'allow',
      reason,
      details: {
        kind: row.kind,
        vehicleId: row.vehicle_id,
        userId: row.user_id,
        applicationId: row.application_id,
        groupId: row.group_id,
      },
    });
    return true;
  }

  return {
    /** Records a relationship (and its audit event) in one transaction. */
    async grant(
      actor: RelationshipActor,
      rel: NewRelationship,
      trx: Kysely<Database> = deps.db,
    ): Promise<RelationshipRow> {
      if (!RELATIONSHIP_KINDS.includes(rel.kind))
        throw new CarapaceError('ERR_VALIDATION', `unknown relationship kind ${rel.kind}`, { field: 'kind' });
      const now = deps.clock.now();
      const row: RelationshipRow = {
        id: newId(),
        kind: rel.kind,
        user_id: rel.userId ?? null,
        tenant_id: rel.tenantId ?? null,
        application_id: rel.applicationId ?? null,
        vehicle_id: rel.vehicleId ?? null,
        group_id: rel.groupId ?? null,
        account_id: rel.accountId ?? null,
        attributes: JSON.stringify(rel.attributes ?? {}),
        granted_by: `${actor.type}:${actor.id}`,
        granted_at: now.toISOString(),
        valid_from: (rel.validFrom ?? now).toISOString(),
        valid_until: rel.validUntil ? rel.validUntil.toISOString() : null,
        ended_at: null,
        ended_by: null,
        end_reason: null,
      };
      const write = async (db: Kysely<Database>) => {
        await db.insertInto('relationships').values(row).execute();
        await deps.audit.append(db, {
          type: 'relationships.granted',
          actor: { type: actor.type, id: actor.id },
          tenantId: row.tenant_id,
          object: {
            type: row.vehicle_id ? 'vehicle' : row.account_id ? 'user' : 'group',
            id: row.vehicle_id ?? row.account_id ?? row.group_id,
          },
          action: `grant:${row.kind}`,
          decision: 'allow',
          details: { relationshipId: row.id, validUntil: row.valid_until },
        });
      };
      await (trx === deps.db ? deps.db.transaction().execute(write) : write(trx));
      return row;
    },

    /**
     * Records the case behind a service- or support-case relationship created directly (a scenario, an import),
     * so it can be listed, consented and closed like one opened through the API; audited in the same transaction.
     */
    async recordCase(
      actor: RelationshipActor,
      row: RelationshipRow,
      args: { reason: string | null; endedAt: string | null },
    ): Promise<void> {
      const by = `${actor.type}:${actor.id}`;
      await deps.db.transaction().execute(async (trx) => {
        const id = newId();
        if (row.kind === 'service_case' && row.tenant_id) {
          await trx
            .insertInto('service_cases')
            .values({
              id,
              dealer_tenant_id: row.tenant_id,
              vehicle_id: row.vehicle_id,
              reason: args.reason ?? 'recorded service case',
              status: args.endedAt ? 'closed' : 'open',
              requested_by: row.granted_by,
              requested_at: row.valid_from,
              consented_by: row.granted_by,
              consented_at: row.valid_from,
              closes_at: row.valid_until,
              closed_at: args.endedAt,
              closed_by: args.endedAt ? by : null,
              resolution: args.endedAt ? (args.reason ?? 'closed') : null,
              relationship_id: row.id,
            })
            .execute();
        } else if (row.kind === 'support_case' && row.user_id && row.account_id) {
          const [agentTenant] = await tenantsWhereRole(trx, row.user_id, 'support_agent');
          if (!agentTenant)
            throw new CarapaceError('ERR_VALIDATION', 'a support case needs an assignee with the support_agent role', {
              field: 'relationships',
            });
          await trx
            .insertInto('support_cases')
            .values({
              id,
              operator_tenant_id: agentTenant,
              account_id: row.account_id,
              vehicle_id: row.vehicle_id,
              assignee_id: row.user_id,
              summary: 'recorded support case',
              status: args.endedAt ? 'closed' : 'open',
              opened_by: row.granted_by,
              opened_at: row.valid_from,
              closed_at: args.endedAt,
              closed_by: args.endedAt ? by : null,
              resolution: args.endedAt ? 'closed' : null,
              relationship_id: row.id,
            })
            .execute();
        } else return;
        await deps.audit.append(trx, {
          type: 'relationships.case.recorded',
          actor: { type: actor.type, id: actor.id },
          tenantId: row.tenant_id,
          object: { type: row.kind, id },
          action: `record:${row.kind}`,
          decision: 'allow',
          details: { relationshipId: row.id, closed: args.endedAt !== null },
        });
      });
    },

    /** Ends a relationship as of `at` (default now): kept in history with who ended it and why. */
    async end(actor: RelationshipActor, id: string, reason: string, at?: Date): Promise<void> {
      const when = (at ?? deps.clock.now()).toISOString();
      await deps.db.transaction().execute(async (trx) => {
        const row = await trx.selectFrom('relationships').selectAll().where('id', '=', id).executeTakeFirst();
        if (!row || !(await endWithin(trx, actor, row, reason, when)))
          throw new CarapaceError('ERR_CONFLICT', 'the relationship has already ended or does not exist', {});
      });
    },

    endWithin,

    /** Relationships in force at `at`: started, not yet expired, not ended. */
    async inForce(
      filter: {
        userId?: string;
        vehicleId?: string;
        tenantId?: string;
        applicationId?: string;
        kind?: RelationshipKind;
      },
      at?: Date,
    ): Promise<RelationshipRow[]> {
      const t = (at ?? deps.clock.now()).toISOString();
      let q = deps.db
        .selectFrom('relationships')
        .selectAll()
        .where('valid_from', '<=', t)
        .where((eb) => eb.or([eb('valid_until', 'is', null), eb('valid_until', '>', t)]))
        .where((eb) => eb.or([eb('ended_at', 'is', null), eb('ended_at', '>', t)]));
      if (filter.userId) q = q.where('user_id', '=', filter.userId);
      if (filter.vehicleId) q = q.where('vehicle_id', '=', filter.vehicleId);
      if (filter.tenantId) q = q.where('tenant_id', '=', filter.tenantId);
      if (filter.applicationId) q = q.where('application_id', '=', filter.applicationId);
      if (filter.kind) q = q.where('kind', '=', filter.kind);
      return q.orderBy('granted_at').execute();
    },

    /** Creates a fleet group. */
    async createGroup(tenantId: string, name: string): Promise<string> {
      const id = newId();
      await deps.db
        .insertInto('fleet_groups')
        .values({ id, tenant_id: tenantId, name, created_at: deps.clock.now().toISOString() })
        .execute();
      return id;
    },
  };
}

/** The relationship store. */
export type RelationshipStore = ReturnType<typeof createRelationshipStore>;
