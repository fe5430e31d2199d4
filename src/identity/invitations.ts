import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../platform/index.js';
import { CarapaceError } from '../platform/index.js';
import { newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { IdentityAuditLog } from './audit-events.js';
import type { DirectoryActor } from './directory.js';
import { normalizeEmail } from './directory.js';
import { invitationCodeHash } from './reads.js';
import { type InvitationRow, PRIVILEGED_ROLES, ROLES, type Role, type TenantKind } from './tables.js';

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

/**
 * Invitations: the only way to a privileged role. Someone allowed to grant a role in a tenant invites an
 * email address; the invitee, signed in as that address, accepts with the one-time code. The code is shown
 * once and stored only as a hash; it expires, and works once. Who may invite to which role, and who may accept
 * (the addressee, while the inviter still holds the granting role), are the policies' decisions
 * (`self.invite-needs-granting-role`, `self.accept-own-invitation`); this service keeps the invariants.
 */
export function createInvitations(deps: {
  db: Kysely<Database>;
  audit: IdentityAuditLog;
  clock: Clock;
  ttlSeconds: number;
}) {
  return {
    /** Creates an invitation and returns its code (shown once). The granter's right is decided again at acceptance. */
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
            code_hash: invitationCodeHash(code),
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

    /**
     * Accepts an invitation the policies allowed the signed-in user to accept: claims it once, atomically and
     * only while unexpired, and grants the role. A concurrent second use loses the claim and is refused.
     */
    async accept(userId: string, invitation: InvitationRow): Promise<{ tenantId: string; role: Role }> {
      const now = deps.clock.now().toISOString();
      const inv = invitation;
      const granted = await deps.db.transaction().execute(async (trx) => {
        const claimed = await trx
          .updateTable('invitations')
          .set({ accepted_at: now, accepted_by: userId })
          .where('id', '=', inv.id)
          .where('accepted_at', 'is', null)
          .where('expires_at', '>', now)
          .executeTakeFirst();
        if (Number(claimed.numUpdatedRows) !== 1) return false;
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
        return true;
      });
      if (granted) return { tenantId: inv.tenant_id, role: inv.role };
      // Audited after the transaction (SQLite has one writer); the same answer as any other refusal.
      await deps.audit.append(deps.db, {
        type: 'identity.invitation.refused',
        actor: { type: 'user', id: userId },
        tenantId: inv.tenant_id,
        object: { type: 'invitation', id: inv.id },
        action: 'accept',
        decision: 'deny',
        reason: 'already_used',
      });
      throw new CarapaceError('ERR_NOT_FOUND', 'no such resource');
    },
  };
}

/** The invitation service. */
export type Invitations = ReturnType<typeof createInvitations>;
