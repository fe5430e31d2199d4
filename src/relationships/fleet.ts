import type { Kysely } from 'kysely';
import type { Clock } from '../platform/index.js';
import { CarapaceError } from '../platform/index.js';
import { newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { FLEET_AUDIT_EVENTS, type FleetChange, type RelationshipAuditLog } from './audit-events.js';
import type { Actor } from './access.js';
import type { RelationshipStore } from './store.js';
import type { FleetGroupRow } from './tables.js';

/** Fleet groups: which vehicles are in a group and which operators are assigned to it. */
export function createFleetGroups(deps: {
  db: Kysely<Database>;
  audit: RelationshipAuditLog;
  clock: Clock;
  relationships: RelationshipStore;
}) {
  const { db, audit, clock } = deps;
  const inForce = (trx: Kysely<Database>, at: string) =>
    trx
      .selectFrom('relationships')
      .selectAll()
      .where('ended_at', 'is', null)
      .where('valid_from', '<=', at)
      .where((eb) => eb.or([eb('valid_until', 'is', null), eb('valid_until', '>', at)]));
  const record = (
    trx: Kysely<Database>,
    actor: Actor,
    group: FleetGroupRow,
    action: FleetChange,
    object: { type: string; id: string },
  ) =>
    audit.append(trx, {
      type: FLEET_AUDIT_EVENTS[action],
      actor: { type: 'user', id: actor.userId },
      applicationId: actor.clientId,
      tenantId: group.tenant_id,
      object,
      action,
      decision: 'allow',
      details: { groupId: group.id },
    });
  return {
    /** Creates a group in a fleet. */
    async create(actor: Actor, tenantId: string, name: string): Promise<FleetGroupRow> {
      const row: FleetGroupRow = { id: newId(), tenant_id: tenantId, name, created_at: clock.now().toISOString() };
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('fleet_groups').values(row).execute();
        await record(trx, actor, row, 'fleet:create_group', { type: 'fleet_group', id: row.id });
      });
      return row;
    },

    /** The vehicles and operators of a group, now. */
    async contents(group: FleetGroupRow): Promise<{ vehicleIds: string[]; memberIds: string[] }> {
      const rels = await inForce(db, clock.now().toISOString()).where('group_id', '=', group.id).execute();
      return {
        vehicleIds: [
          ...new Set(rels.filter((r) => r.kind === 'fleet_vehicle' && r.vehicle_id).map((r) => r.vehicle_id as string)),
        ].sort(),
        memberIds: [
          ...new Set(rels.filter((r) => r.kind === 'fleet_group_member' && r.user_id).map((r) => r.user_id as string)),
        ].sort(),
      };
    },

    /** Puts one of the fleet's vehicles in the group (idempotent). */
    async addVehicle(actor: Actor, group: FleetGroupRow, vehicleId: string): Promise<void> {
      const at = clock.now().toISOString();
      await db.transaction().execute(async (trx) => {
        const existing = await inForce(trx, at)
          .where('kind', '=', 'fleet_vehicle')
          .where('vehicle_id', '=', vehicleId)
          .where('group_id', '=', group.id)
          .executeTakeFirst();
        if (existing) return;
        await deps.relationships.grant(
          { type: 'user', id: actor.userId },
          { kind: 'fleet_vehicle', tenantId: group.tenant_id, vehicleId, groupId: group.id },
          trx,
        );
        await record(trx, actor, group, 'fleet:assign_vehicle', { type: 'vehicle', id: vehicleId });
      });
    },

    /** Takes a vehicle out of the group; it stays in the fleet. */
    async removeVehicle(actor: Actor, group: FleetGroupRow, vehicleId: string): Promise<void> {
      const at = clock.now().toISOString();
      await db.transaction().execute(async (trx) => {
        const rows = await inForce(trx, at)
          .where('kind', '=', 'fleet_vehicle')
          .where('vehicle_id', '=', vehicleId)
          .where('tenant_id', '=', group.tenant_id)
          .execute();
        const inGroup = rows.filter((r) => r.group_id === group.id);
        if (inGroup.length === 0) throw new CarapaceError('ERR_NOT_FOUND', 'no such resource');
        for (const r of inGroup)
          await deps.relationships.endWithin(trx, { type: 'user', id: actor.userId }, r, 'removed from group', at);
        // Fleet membership rode on the group row alone: keep the vehicle in the fleet.
        if (rows.length === inGroup.length)
          await deps.relationships.grant(
            { type: 'user', id: actor.userId },
            { kind: 'fleet_vehicle', tenantId: group.tenant_id, vehicleId },
            trx,
          );
        await record(trx, actor, group, 'fleet:unassign_vehicle', { type: 'vehicle', id: vehicleId });
      });
    },

    /** Assigns one of the fleet's operators to the group (idempotent). */
    async addMember(actor: Actor, group: FleetGroupRow, userId: string): Promise<void> {
      const at = clock.now().toISOString();
      await db.transaction().execute(async (trx) => {
        const existing = await inForce(trx, at)
          .where('kind', '=', 'fleet_group_member')
          .where('user_id', '=', userId)
          .where('group_id', '=', group.id)
          .executeTakeFirst();
        if (existing) return;
        await deps.relationships.grant(
          { type: 'user', id: actor.userId },
          { kind: 'fleet_group_member', userId, tenantId: group.tenant_id, groupId: group.id },
          trx,
        );
        await record(trx, actor, group, 'fleet:assign_member', { type: 'user', id: userId });
      });
    },

    /** Unassigns an operator from the group. */
    async removeMember(actor: Actor, group: FleetGroupRow, userId: string): Promise<void> {
      const at = clock.now().toISOString();
      await db.transaction().execute(async (trx) => {
        const rows = await trx
          .selectFrom('relationships')
          .selectAll()
          .where('kind', '=', 'fleet_group_member')
          .where('user_id', '=', userId)
          .where('group_id', '=', group.id)
          .where('ended_at', 'is', null)
          .execute();
        let ended = 0;
        for (const r of rows)
          if (
            await deps.relationships.endWithin(trx, { type: 'user', id: actor.userId }, r, 'unassigned from group', at)
          )
            ended++;
        if (ended === 0) throw new CarapaceError('ERR_NOT_FOUND', 'no such resource');
        await record(trx, actor, group, 'fleet:unassign_member', { type: 'user', id: userId });
      });
    },
  };
}

/** Fleet group changes. */
export type FleetGroups = ReturnType<typeof createFleetGroups>;
