import type { Kysely } from 'kysely';
import type { Clock } from '../platform/index.js';
import { CarapaceError } from '../platform/index.js';
import { newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { RequestContext } from '../audit/index.js';
import type { RelationshipAuditLog } from './audit-events.js';
import type { CommandName } from '../wire/index.js';
import { findActiveUserByEmail, findApplication } from '../identity/index.js';
import { codeHash, newLinkCode } from './codes.js';
import type { RelationshipStore } from './store.js';
import type { RelationshipRow } from './tables.js';

/** Scopes an owner may consent to for a partner. Never a command scope. */
export const PARTNER_GRANTABLE_SCOPES = ['vehicle:read_status', 'vehicle:location', 'vehicle:charging'] as const;

/** The longest delegation an owner can give in one invite, and how long an invite waits for acceptance. */
export const MAX_DELEGATION_DAYS = 365;
const INVITE_TTL_MS = 7 * 24 * 3600_000;
const DAY_MS = 24 * 3600_000;

/**
 * Something else that must end with an ownership, in the same transaction (the commands module registers
 * its queued jobs here). Returns how many things it ended.
 */
export type OwnershipCascade = (
  trx: Kysely<Database>,
  args: { vehicleId: string; ownerId: string; at: string },
) => Promise<number>;

/** Who acts: a person, through an application. */
export interface Actor {
  userId: string;
  clientId: string;
  /** The request it came in on, for the events the detections read (source address, request id). */
  context?: RequestContext;
}

/** Changes to who may reach a vehicle that its owner (or fleet admin) makes: transfer, drivers, partners, groups. */
export function createVehicleAccess(deps: {
  db: Kysely<Database>;
  audit: RelationshipAuditLog;
  clock: Clock;
  relationships: RelationshipStore;
  cascades: readonly OwnershipCascade[];
  /**
   * The commands a delegation may list: the command catalog's `delegable` ones, passed in by the composition
   * root (relationships sits below commands and must not import it).
   */
  delegableCommands: readonly CommandName[];
  /** The catalog's step-up commands: delegating one needs the owner's recent second factor (a guardrail). */
  stepUpCommands: readonly CommandName[];
}) {
  const { db, audit, clock } = deps;
  const delegable: readonly string[] = deps.delegableCommands;
  const end = async (trx: Kysely<Database>, rows: RelationshipRow[], by: string, reason: string, at: string) => {
    for (const r of rows) await deps.relationships.endWithin(trx, { type: 'user', id: by }, r, reason, at);
  };
  const inForceOn = (trx: Kysely<Database>, vehicleId: string, at: string) =>
    trx
      .selectFrom('relationships')
      .selectAll()
      .where('vehicle_id', '=', vehicleId)
      .where('valid_from', '<=', at)
      .where((eb) => eb.or([eb('valid_until', 'is', null), eb('valid_until', '>', at)]))
      .where('ended_at', 'is', null);

  /**
   * What a transfer ends besides relationships, one row and one audit event at a time: unused just-in-time
   * approvals to command the vehicle, pending driver invites, and open or requested service cases.
   */
  const endVehicleRecords = async (trx: Kysely<Database>, actor: Actor, vehicleId: string, at: string) => {
    const who = { type: 'user' as const, id: actor.userId };
    const common = {
      actor: who,
      applicationId: actor.clientId,
      decision: 'allow' as const,
      reason: 'vehicle transferred',
    };
    const approvals = await trx
      .selectFrom('jit_approvals')
      .select(['id', 'support_case_id'])
      .where('vehicle_id', '=', vehicleId)
      .where('used_at', 'is', null)
      .where('expires_at', '>', at)
      .execute();
    for (const a of approvals) {
      await trx.updateTable('jit_approvals').set({ expires_at: at }).where('id', '=', a.id).execute();
      await audit.append(trx, {
        ...common,
        type: 'relationships.support_case.approval_ended',
        object: { type: 'jit_approval', id: a.id },
        action: 'support_case:approve_command',
        details: { supportCaseId: a.support_case_id, vehicleId },
      });
    }
    const invites = await trx
      .selectFrom('delegation_invites')
      .select(['id'])
      .where('vehicle_id', '=', vehicleId)
      .where('status', '=', 'pending')
      .execute();
    for (const i of invites) {
      await trx.updateTable('delegation_invites').set({ status: 'revoked' }).where('id', '=', i.id).execute();
      await audit.append(trx, {
        ...common,
        type: 'relationships.delegation.invite_withdrawn',
        object: { type: 'delegation_invite', id: i.id },
        action: 'delegation:revoke_invite',
        details: { vehicleId },
      });
    }
    const cases = await trx
      .selectFrom('service_cases')
      .select(['id', 'dealer_tenant_id'])
      .where('vehicle_id', '=', vehicleId)
      .where('status', 'in', ['requested', 'open'])
      .execute();
    for (const c of cases) {
      await trx
        .updateTable('service_cases')
        .set({ status: 'closed', closed_at: at, closed_by: `user:${actor.userId}`, resolution: 'vehicle transferred' })
        .where('id', '=', c.id)
        .execute();
      await audit.append(trx, {
        ...common,
        type: 'relationships.service_case.closed',
        tenantId: c.dealer_tenant_id,
        object: { type: 'service_case', id: c.id },
        action: 'service_case:close',
        details: { vehicleId },
      });
    }
    return { approvals: approvals.length, invites: invites.length, serviceCases: cases.length };
  };

  return {
    /** The commands a delegation may list (the request schema is built from them). */
    delegableCommands: deps.delegableCommands,
    /** The commands whose delegation is judged by `guardrail.step-up-commands`. */
    stepUpCommands: deps.stepUpCommands,
    /**
     * Transfers a vehicle from its current owner to another person, in one transaction: the old ownership
     * ends, and with it the drivers' delegations, pending invites, partner consents, service-case consents
     * and whatever registered cascades end (queued command jobs).
     */
    async transfer(
      actor: Actor,
      vehicleId: string,
      toEmail: string,
    ): Promise<{ ownershipId: string; ended: Record<string, number> }> {
      const to = await findActiveUserByEmail(db, toEmail);
      // One answer for an unknown address and one that cannot receive: no way to test which emails exist.
      if (!to || to.id === actor.userId)
        throw new CarapaceError('ERR_TRANSFER_REFUSED', 'this vehicle cannot be transferred to that account');
      const at = clock.now().toISOString();
      return db.transaction().execute(async (trx) => {
        const rels = await inForceOn(trx, vehicleId, at).execute();
        const ownership = rels.filter((r) => r.kind === 'ownership' && r.user_id === actor.userId);
        if (ownership.length !== 1)
          throw new CarapaceError('ERR_CONFLICT', 'the ownership changed meanwhile; reload and try again');
        const ended: Record<string, number> = {};
        const endKind = async (kind: RelationshipRow['kind'], reason: string) => {
          const rows = rels.filter((r) => r.kind === kind);
          await end(trx, rows, actor.userId, reason, at);
          ended[kind] = rows.length;
        };
        await endKind('ownership', 'ownership transferred');
        await endKind('delegation', 'vehicle transferred: delegations from the previous owner end');
        await endKind('partner_grant', 'vehicle transferred: consents from the previous owner end');
        await endKind('service_case', 'vehicle transferred: consent from the previous owner ends');
        // A support case about the seller's account keeps the account but loses the vehicle, and any
        // unused approval to command it ends: the agent was helping the seller, not the buyer.
        const supportRows = rels.filter((r) => r.kind === 'support_case');
        await end(trx, supportRows, actor.userId, 'vehicle transferred: the support case no longer covers it', at);
        for (const r of supportRows) {
          if (!r.user_id || !r.account_id) continue;
          const kept = await deps.relationships.grant(
            { type: 'user', id: actor.userId },
            {
              kind: 'support_case',
              userId: r.user_id,
              accountId: r.account_id,
              attributes: JSON.parse(r.attributes) as Record<string, unknown>,
            },
            trx,
          );
          await trx
            .updateTable('support_cases')
            .set({ vehicle_id: null, relationship_id: kept.id })
            .where('relationship_id', '=', r.id)
            .execute();
        }
        ended.support_case = supportRows.length;
        const closed = await endVehicleRecords(trx, actor, vehicleId, at);
        Object.assign(ended, closed);
        for (const cascade of deps.cascades ?? [])
          ended.commandJobs = (ended.commandJobs ?? 0) + (await cascade(trx, { vehicleId, ownerId: actor.userId, at }));
        const granted = await deps.relationships.grant(
          { type: 'user', id: actor.userId },
          { kind: 'ownership', userId: to.id, vehicleId },
          trx,
        );
        await audit.append(trx, {
          type: 'relationships.vehicle.transferred',
          actor: { type: 'user', id: actor.userId },
          applicationId: actor.clientId,
          object: { type: 'vehicle', id: vehicleId },
          action: 'vehicle:transfer',
          decision: 'allow',
          details: { toUser: to.id, ...Object.fromEntries(Object.entries(ended).map(([k, v]) => [`ended_${k}`, v])) },
        });
        return { ownershipId: granted.id, ended };
      });
    },

    /**
     * Creates a single-use invite for a driver: the owner fixes the window and the commands; the code is returned once.
     */
    async invite(
      actor: Actor,
      vehicleId: string,
      args: { email: string; commands: string[]; validFrom?: string; validUntil: string },
    ) {
      const now = clock.now();
      const from = args.validFrom ? new Date(args.validFrom) : now;
      const until = new Date(args.validUntil);
      if (Number.isNaN(from.getTime()) || Number.isNaN(until.getTime()))
        throw new CarapaceError('ERR_VALIDATION', 'validFrom and validUntil are RFC 3339 date-times', {
          field: 'validUntil',
        });
      if (until <= from || until <= now)
        throw new CarapaceError('ERR_VALIDATION', 'validUntil must be after validFrom and in the future', {
          field: 'validUntil',
        });
      // A delegation starts now or later: history must never show access before it was granted.
      if (from.getTime() < now.getTime() - 60_000)
        throw new CarapaceError('ERR_VALIDATION', 'validFrom cannot be in the past', { field: 'validFrom' });
      if (until.getTime() - from.getTime() > MAX_DELEGATION_DAYS * DAY_MS)
        throw new CarapaceError('ERR_VALIDATION', `a delegation lasts at most ${MAX_DELEGATION_DAYS} days`, {
          field: 'validUntil',
        });
      const unknown = args.commands.filter((c) => !delegable.includes(c));
      if (unknown.length > 0 || args.commands.length === 0)
        throw new CarapaceError('ERR_VALIDATION', `commands must be a non-empty list from: ${delegable.join(', ')}`, {
          field: 'commands',
        });
      const code = newLinkCode();
      const row = {
        id: newId(),
        vehicle_id: vehicleId,
        invitee_email: args.email.trim().toLowerCase(),
        code_hash: codeHash(code),
        commands: JSON.stringify([...new Set(args.commands)].sort()),
        valid_from: from.toISOString(),
        valid_until: until.toISOString(),
        expires_at: new Date(Math.min(now.getTime() + INVITE_TTL_MS, until.getTime())).toISOString(),
        status: 'pending' as const,
        created_by: actor.userId,
        created_at: now.toISOString(),
        accepted_by: null,
        accepted_at: null,
        relationship_id: null,
      };
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('delegation_invites').values(row).execute();
        await audit.append(trx, {
          type: 'relationships.delegation.invited',
          actor: { type: 'user', id: actor.userId },
          applicationId: actor.clientId,
          object: { type: 'vehicle', id: vehicleId },
          action: 'delegation:create',
          decision: 'allow',
          details: { inviteId: row.id, commands: JSON.parse(row.commands) as string[], validUntil: row.valid_until },
        });
      });
      return { invite: row, code };
    },

    /** Accepts an invite with its code: the delegation gets exactly the window and commands the owner set. */
    async accept(actor: Actor, invite: Database['delegation_invites'], code: string): Promise<RelationshipRow> {
      if (codeHash(code) !== invite.code_hash)
        throw new CarapaceError('ERR_INVITE_INVALID', 'this invite code is not valid');
      const at = clock.now();
      return db.transaction().execute(async (trx) => {
        // Single use, even when two requests race: only one update moves it out of pending.
        const taken = await trx
          .updateTable('delegation_invites')
          .set({ status: 'accepted', accepted_by: actor.userId, accepted_at: at.toISOString() })
          .where('id', '=', invite.id)
          .where('status', '=', 'pending')
          .where('expires_at', '>', at.toISOString())
          .executeTakeFirst();
        if (Number(taken.numUpdatedRows) !== 1)
          throw new CarapaceError('ERR_INVITE_INVALID', 'this invite code is not valid');
        const owner = await trx
          .selectFrom('relationships')
          .select(['user_id'])
          .where('vehicle_id', '=', invite.vehicle_id)
          .where('kind', '=', 'ownership')
          .where('ended_at', 'is', null)
          .executeTakeFirst();
        // The invite dies with the ownership that issued it.
        if (owner?.user_id !== invite.created_by)
          throw new CarapaceError('ERR_INVITE_INVALID', 'this invite code is not valid');
        const rel = await deps.relationships.grant(
          { type: 'user', id: invite.created_by },
          {
            kind: 'delegation',
            userId: actor.userId,
            vehicleId: invite.vehicle_id,
            attributes: { commands: JSON.parse(invite.commands) as string[], inviteId: invite.id },
            validFrom: new Date(invite.valid_from),
            validUntil: new Date(invite.valid_until),
          },
          trx,
        );
        await trx
          .updateTable('delegation_invites')
          .set({ relationship_id: rel.id })
          .where('id', '=', invite.id)
          .execute();
        return rel;
      });
    },

    /** Withdraws a pending invite: its code stops working at once. */
    async withdrawInvite(actor: Actor, invite: Database['delegation_invites'], reason: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const r = await trx
          .updateTable('delegation_invites')
          .set({ status: 'revoked' })
          .where('id', '=', invite.id)
          .where('status', '=', 'pending')
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) !== 1) throw new CarapaceError('ERR_CONFLICT', 'the invite is no longer pending');
        await audit.append(trx, {
          type: 'relationships.delegation.invite_withdrawn',
          actor: { type: 'user', id: actor.userId },
          applicationId: actor.clientId,
          object: { type: 'delegation_invite', id: invite.id },
          action: 'delegation:revoke_invite',
          decision: 'allow',
          reason,
        });
      });
    },

    /** Ends a relationship (a delegation, a partner grant) with a reason, audited. */
    async endRelationship(actor: Actor, rel: RelationshipRow, reason: string): Promise<void> {
      await deps.relationships.end({ type: 'user', id: actor.userId }, rel.id, reason);
    },

    /** Records an owner's consent for a partner on one vehicle, for named scopes, until a date. */
    async grantPartner(
      actor: Actor,
      vehicleId: string,
      args: { clientId: string; scopes: string[]; until: string },
    ): Promise<RelationshipRow> {
      const partner = await findApplication(db, args.clientId);
      if (!partner || partner.kind !== 'partner')
        throw new CarapaceError('ERR_VALIDATION', 'no partner application with that client id', { field: 'clientId' });
      const registered = JSON.parse(partner.scopes) as string[];
      const bad = args.scopes.filter(
        (s) => !(PARTNER_GRANTABLE_SCOPES as readonly string[]).includes(s) || !registered.includes(s),
      );
      if (bad.length > 0 || args.scopes.length === 0)
        throw new CarapaceError(
          'ERR_VALIDATION',
          `scopes must be non-empty, registered for the partner, and from: ${PARTNER_GRANTABLE_SCOPES.join(', ')}`,
          { field: 'scopes' },
        );
      const until = new Date(args.until);
      const now = clock.now();
      if (Number.isNaN(until.getTime()) || until <= now || until.getTime() - now.getTime() > 366 * DAY_MS)
        throw new CarapaceError('ERR_VALIDATION', 'until must be in the future and within a year', { field: 'until' });
      return deps.relationships.grant(
        { type: 'user', id: actor.userId },
        {
          kind: 'partner_grant',
          applicationId: partner.client_id,
          vehicleId,
          attributes: { scopes: [...new Set(args.scopes)].sort() },
          validUntil: until,
        },
      );
    },
  };
}

/** Owner-side access changes. */
export type VehicleAccess = ReturnType<typeof createVehicleAccess>;
