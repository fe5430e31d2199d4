import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../platform/index.js';
import { CarapaceError } from '../platform/index.js';
import { newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { IdentityAuditLog } from './audit-events.js';
import type { Directory, DirectoryActor } from './directory.js';
import { normalizeEmail } from './directory.js';
import { PRIVILEGED_ROLES, ROLES, type Role, type TenantKind } from './tables.js';

/** The kinds of tenant each role can be held in. */
const ROLE_TENANT_KINDS: Record<Role, readonly TenantKind[]> = {
  owner: ['consumer'],
  driver: ['consumer'],
  fleet_admin: ['fleet'],
  fleet_operator: ['fleet'],
  dealer_technician: ['dealer'],
  support_agent: ['oem'],
  security_admin: ['oem'],
};

const hashCode = (code: string) => createHash('sha256').update(code).digest('hex');

/**
 * Invitations: the only way to a privileged role. Someone allowed to grant a role in a tenant invites an
 * email address; the invitee, signed in as that address, accepts with the one-time code. The code is shown
 * once and stored only as a hash; it expires, and works once.
 */
export function createInvitations(deps: {
  db: Kysely<Database>;
  audit: IdentityAuditLog;
  clock: Clock;
  directory: Directory;
  ttlSeconds: number;
}) {
  return {
    /** Creates an invitation and returns its code (shown once). The granter's right is checked at acceptance too. */
    async invite(
      actor: DirectoryActor & { type: 'user' },
      args: { tenantId: string; email: string; role: Role },
    ): Promise<{ id: string; code: string; expiresAt: string }> {
      if (!ROLES.includes(args.role))
        throw new CarapaceError('ERR_VALIDATION', `role must be one of ${ROLES.join(', ')}`, { field: 'role' });
      // A tenant the inviter does not belong to answers exactly like one that does not exist.
      const member = await deps.db
        .selectFrom('memberships')
        .select('id')
        .where('user_id', '=', actor.id)
        .where('tenant_id', '=', args.tenantId)
        .where('ended_at', 'is', null)
        .executeTakeFirst();
      if (!member) throw new CarapaceError('ERR_NOT_FOUND', 'no such tenant');
      await deps.directory.assertMayGrant(deps.db, actor, args.tenantId, args.role, { invitation: true });
      // A role only exists in the kind of tenant it belongs to: no "owner" of a fleet, no support agent at a dealer.
      const tenant = await deps.db
        .selectFrom('tenants')
        .select(['kind'])
        .where('id', '=', args.tenantId)
        .executeTakeFirst();
      if (!tenant || !ROLE_TENANT_KINDS[args.role].includes(tenant.kind))
        throw new CarapaceError(
          'ERR_VALIDATION',
          `the role ${args.role} does not exist in a ${tenant?.kind ?? 'missing'} tenant`,
          { field: 'role' },
        );
      // Nobody hands themselves a privileged role: a second person has to invite them.
      if (PRIVILEGED_ROLES.includes(args.role)) {
        const self = await deps.db.selectFrom('users').select(['email']).where('id', '=', actor.id).executeTakeFirst();
        if (self && normalizeEmail(self.email) === normalizeEmail(args.email))
          throw new CarapaceError('ERR_FORBIDDEN', 'a privileged role cannot be granted to oneself', {
            reason: 'self_invitation',
          });
      }
      const code = randomBytes(24).toString('base64url');
      const id = newId();
      const now = deps.clock.now();
      const expiresAt = new Date(now.getTime() + deps.ttlSeconds * 1000).toISOString();
      await deps.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('invitations')
          .values({
            id,
            tenant_id: args.tenantId,
            email: normalizeEmail(args.email),
            role: args.role,
            invited_by: actor.id,
            code_hash: hashCode(code),
            created_at: now.toISOString(),
            expires_at: expiresAt,
            accepted_at: null,
            accepted_by: null,
          })
          .execute();
        await deps.audit.append(trx, {
          type: 'identity.invitation.created',
          actor,
          tenantId: args.tenantId,
          object: { type: 'invitation', id },
          action: 'invite',
          decision: 'allow',
          details: { role: args.role },
        });
      });
      return { id, code, expiresAt };
    },

    /** Accepts an invitation as the signed-in user; the email must match, the code must be live and unused. */
    async accept(userId: string, code: string): Promise<{ tenantId: string; role: Role }> {
      const now = deps.clock.now().toISOString();
      type Outcome =
        { ok: true; tenantId: string; role: Role } | { ok: false; reason: string; invitationId: string | null };
      const outcome = await deps.db.transaction().execute(async (trx): Promise<Outcome> => {
        const inv = await trx
          .selectFrom('invitations')
          .selectAll()
          .where('code_hash', '=', hashCode(code))
          .executeTakeFirst();
        const user = await trx.selectFrom('users').select(['email']).where('id', '=', userId).executeTakeFirst();
        const refused = (reason: string): Outcome => ({ ok: false, reason, invitationId: inv?.id ?? null });
        if (!inv) return refused('unknown_code');
        if (inv.accepted_at) return refused('already_used');
        if (inv.expires_at <= now) return refused('expired');
        if (!user || user.email !== inv.email) return refused('email_mismatch');
        const claimed = await trx
          .updateTable('invitations')
          .set({ accepted_at: now, accepted_by: userId })
          .where('id', '=', inv.id)
          .where('accepted_at', 'is', null)
          .executeTakeFirst();
        if (Number(claimed.numUpdatedRows) !== 1) return refused('already_used');
        // The inviter must still hold the granting role when the invitation is used.
        await deps.directory.assertMayGrant(trx, { type: 'user', id: inv.invited_by }, inv.tenant_id, inv.role, {
          invitation: true,
        });
        await trx
          .insertInto('memberships')
          .values({
            id: newId(),
            user_id: userId,
            tenant_id: inv.tenant_id,
            role: inv.role,
            granted_by: inv.invited_by,
            granted_at: now,
            ended_at: null,
          })
          .execute();
        await deps.audit.append(trx, {
          type: 'identity.membership.granted',
          actor: { type: 'user', id: userId },
          tenantId: inv.tenant_id,
          object: { type: 'user', id: userId },
          action: 'accept_invitation',
          decision: 'allow',
          details: { role: inv.role, invitationId: inv.id, invitedBy: inv.invited_by },
        });
        return { ok: true, tenantId: inv.tenant_id, role: inv.role };
      });
      if (outcome.ok) return { tenantId: outcome.tenantId, role: outcome.role };
      // Audited after the transaction (SQLite has one writer); one answer for every reason: the code is the only
      // secret.
      await deps.audit.append(deps.db, {
        type: 'identity.invitation.refused',
        actor: { type: 'user', id: userId },
        object: { type: 'invitation', id: outcome.invitationId },
        action: 'accept',
        decision: 'deny',
        reason: outcome.reason,
      });
      throw new CarapaceError('ERR_NOT_FOUND', 'no such invitation for you, or it has expired or been used');
    },
  };
}

/** The invitation service. */
export type Invitations = ReturnType<typeof createInvitations>;
