import type { Kysely } from 'kysely';
import type { RequestContext } from '../audit/index.js';
import type { Clock } from '../platform/index.js';
import { CarapaceError } from '../platform/index.js';
import { newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { IdentityAuditLog } from './audit-events.js';
import { checkTotp, hashPassword, newTotpSecret } from './credentials.js';
import type { SecretBox } from './secret-box.js';
import {
  type ApplicationKind,
  PRIVILEGED_ROLES,
  type Role,
  ROLES,
  TENANT_KINDS,
  type TenantKind,
  type TenantRow,
  type UserRow,
} from './tables.js';

/** Who changes the directory: a user acting through the API, an operator, or the seed loader. */
export type DirectoryActor =
  { type: 'user'; id: string } | { type: 'operator'; id: string } | { type: 'system'; id: 'seed' };

/** Dependencies of the directory. */
export interface DirectoryDeps {
  db: Kysely<Database>;
  audit: IdentityAuditLog;
  clock: Clock;
  secrets: SecretBox;
  /**
   * The authorization server's sessions and tokens of an account. A credential change ends them in its own
   * transaction; a port, because the authorization server is built on the directory, not the other way round.
   */
  sessions: AccountSessions;
}

/** Ends an account's sessions, codes and refresh tokens inside the caller's transaction; returns how many. */
export interface AccountSessions {
  revokeAll(trx: Kysely<Database>, userId: string): Promise<number>;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

/** Normalises an email address for lookup (case-insensitive, trimmed). */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** The directory: tenants, users and their credentials, memberships, applications, workloads. */
export function createDirectory(deps: DirectoryDeps) {
  const now = () => deps.clock.now().toISOString();

  /**
   * Direct grants: a person never grants a privileged role directly, only through an invitation the invitee
   * accepts (whose granting rule is the policy `self.accept-own-invitation`). The seed loader stands in for an
   * operator with direct database access; nothing reachable over HTTP is 'system'.
   */
  function assertMayGrant(actor: DirectoryActor, role: Role): void {
    if (!PRIVILEGED_ROLES.includes(role)) return;
    if (actor.type === 'system' || actor.type === 'operator') return;
    throw new CarapaceError('ERR_FORBIDDEN', `${role} is granted only by invitation`, { role });
  }

  return {
    async createTenant(actor: DirectoryActor, args: { name: string; kind: TenantKind }): Promise<TenantRow> {
      if (!TENANT_KINDS.includes(args.kind))
        throw new CarapaceError('ERR_VALIDATION', `tenant kind must be one of ${TENANT_KINDS.join(', ')}`, {
          field: 'kind',
        });
      const row: TenantRow = { id: newId(), name: args.name, kind: args.kind, created_at: now() };
      await deps.db.transaction().execute(async (trx) => {
        await trx.insertInto('tenants').values(row).execute();
        await deps.audit.append(trx, {
          type: 'identity.tenant.created',
          actor,
          tenantId: row.id,
          object: { type: 'tenant', id: row.id },
          action: 'create',
          decision: 'allow',
          details: { kind: row.kind },
        });
      });
      return row;
    },

    async createUser(
      actor: DirectoryActor,
      args: {
        email: string;
        displayName: string;
        password: string;
        totpSecret?: string | null;
        /** The argon2id hash of `password`, computed ahead (the demo's public passwords): seeding skips the cost. */
        passwordHash?: string;
      },
    ): Promise<UserRow> {
      const email = normalizeEmail(args.email);
      if (!EMAIL.test(email)) throw new CarapaceError('ERR_VALIDATION', 'not an email address', { field: 'email' });
      if (args.password.length < 12)
        throw new CarapaceError('ERR_VALIDATION', 'a password has at least 12 characters', { field: 'password' });
      const id = newId();
      const row: UserRow = {
        id,
        email,
        display_name: args.displayName,
        // Not verified against `password` (that costs a hash): only seeding passes one, and a test signs in with it.
        password_hash: args.passwordHash?.startsWith('$argon2id$')
          ? args.passwordHash
          : await hashPassword(args.password),
        totp_sealed: args.totpSecret ? deps.secrets.seal(args.totpSecret, `totp:${id}`) : null,
        totp_last_step: null,
        totp_pending_sealed: null,
        status: 'active',
        credential_epoch: 0,
        created_at: now(),
        updated_at: now(),
      };
      await deps.db.transaction().execute(async (trx) => {
        await trx.insertInto('users').values(row).execute();
        await deps.audit.append(trx, {
          type: 'identity.user.created',
          actor,
          object: { type: 'user', id },
          action: 'create',
          decision: 'allow',
          details: { mfa: row.totp_sealed !== null },
        });
      });
      return row;
    },

    async grantMembership(
      actor: DirectoryActor,
      args: { userId: string; tenantId: string; role: Role },
    ): Promise<string> {
      if (!ROLES.includes(args.role))
        throw new CarapaceError('ERR_VALIDATION', `role must be one of ${ROLES.join(', ')}`, { field: 'role' });
      assertMayGrant(actor, args.role);
      const id = newId();
      await deps.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('memberships')
          .values({
            id,
            user_id: args.userId,
            tenant_id: args.tenantId,
            role: args.role,
            granted_by: actor.id,
            granted_at: now(),
            ended_at: null,
          })
          .execute();
        await deps.audit.append(trx, {
          type: 'identity.membership.granted',
          actor,
          tenantId: args.tenantId,
          object: { type: 'user', id: args.userId },
          action: 'grant',
          decision: 'allow',
          details: { role: args.role, membershipId: id },
        });
      });
      return id;
    },

    async registerApplication(
      actor: DirectoryActor,
      args: {
        clientId: string;
        tenantId: string;
        name: string;
        kind: ApplicationKind;
        redirectUris: string[];
        scopes: string[];
        jwks?: object | null;
      },
    ): Promise<void> {
      for (const uri of args.redirectUris) {
        const u = new URL(uri);
        // Exact matching only, and never a fragment; plain http is for loopback development redirects alone.
        if (u.hash || (u.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname))) {
          throw new CarapaceError(
            'ERR_VALIDATION',
            `redirect URI ${uri} must be https (or http on loopback) without a fragment`,
            { field: 'redirectUris' },
          );
        }
      }
      if (args.kind === 'partner' && !args.jwks)
        throw new CarapaceError(
          'ERR_VALIDATION',
          'a partner application authenticates with private_key_jwt and needs a JWKS',
          { field: 'jwks' },
        );
      await deps.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('applications')
          .values({
            id: newId(),
            client_id: args.clientId,
            tenant_id: args.tenantId,
            name: args.name,
            kind: args.kind,
            redirect_uris: JSON.stringify(args.redirectUris),
            scopes: JSON.stringify(args.scopes),
            jwks: args.jwks ? JSON.stringify(args.jwks) : null,
            created_at: now(),
          })
          .execute();
        await deps.audit.append(trx, {
          type: 'identity.application.registered',
          actor,
          tenantId: args.tenantId,
          object: { type: 'application', id: args.clientId },
          action: 'register',
          decision: 'allow',
          details: { kind: args.kind, scopes: args.scopes },
        });
      });
    },

    async registerWorkload(
      actor: DirectoryActor,
      args: { clientId: string; name: string; scopes: string[]; jwks: object },
    ): Promise<void> {
      await deps.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('workloads')
          .values({
            id: newId(),
            client_id: args.clientId,
            name: args.name,
            scopes: JSON.stringify(args.scopes),
            jwks: JSON.stringify(args.jwks),
            created_at: now(),
          })
          .execute();
        await deps.audit.append(trx, {
          type: 'identity.workload.registered',
          actor,
          object: { type: 'workload', id: args.clientId },
          action: 'register',
          decision: 'allow',
          details: { scopes: args.scopes },
        });
      });
    },

    /** Changes a password and raises the credential epoch, which kills every token issued before. */
    async changePassword(actor: DirectoryActor, userId: string, password: string): Promise<void> {
      if (password.length < 12)
        throw new CarapaceError('ERR_VALIDATION', 'a password has at least 12 characters', { field: 'password' });
      const passwordHash = await hashPassword(password);
      await deps.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('users')
          .set((eb) => ({
            password_hash: passwordHash,
            credential_epoch: eb('credential_epoch', '+', 1),
            updated_at: now(),
          }))
          .where('id', '=', userId)
          .execute();
        const ended = await deps.sessions.revokeAll(trx, userId);
        await deps.audit.append(trx, {
          type: 'identity.user.password_changed',
          actor,
          object: { type: 'user', id: userId },
          action: 'change_password',
          decision: 'allow',
          reason: 'tokens revoked',
          details: { endedSessions: ended },
        });
      });
    },

    /**
     * Ends every session and token of a user (an account takeover): raises the credential epoch, so every access
     * token issued before is refused at its next request on every node, and ends grants, sessions and refresh
     * tokens. The credentials themselves are left as they are.
     */
    async endSessions(actor: DirectoryActor, userId: string, reason: string): Promise<{ endedSessions: number }> {
      return deps.db.transaction().execute(async (trx) => {
        const r = await trx
          .updateTable('users')
          .set((eb) => ({ credential_epoch: eb('credential_epoch', '+', 1), updated_at: now() }))
          .where('id', '=', userId)
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) !== 1) throw new CarapaceError('ERR_NOT_FOUND', 'no such user', { userId });
        const ended = await deps.sessions.revokeAll(trx, userId);
        await deps.audit.append(trx, {
          type: 'identity.user.sessions_ended',
          actor,
          object: { type: 'user', id: userId },
          action: 'end_sessions',
          decision: 'allow',
          reason: reason.slice(0, 500),
          details: { endedSessions: ended },
        });
        return { endedSessions: ended };
      });
    },

    /** Replaces (or removes) the TOTP secret and raises the credential epoch. */
    async resetMfa(actor: DirectoryActor, userId: string, totpSecret: string | null): Promise<void> {
      await deps.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('users')
          .set((eb) => ({
            totp_sealed: totpSecret ? deps.secrets.seal(totpSecret, `totp:${userId}`) : null,
            totp_last_step: null,
            credential_epoch: eb('credential_epoch', '+', 1),
            updated_at: now(),
          }))
          .where('id', '=', userId)
          .execute();
        const ended = await deps.sessions.revokeAll(trx, userId);
        await deps.audit.append(trx, {
          type: 'identity.user.mfa_reset',
          actor,
          object: { type: 'user', id: userId },
          action: 'reset_mfa',
          decision: 'allow',
          reason: 'tokens revoked',
          details: { endedSessions: ended },
        });
      });
    },

    /** Starts TOTP enrolment: a new secret, kept sealed as pending, returned once for the authenticator app. */
    async beginTotpEnrolment(userId: string): Promise<{ secret: string; otpauthUri: string }> {
      const user = await deps.db
        .selectFrom('users')
        .select(['email', 'totp_sealed'])
        .where('id', '=', userId)
        .executeTakeFirstOrThrow();
      if (user.totp_sealed)
        throw new CarapaceError('ERR_CONFLICT', 'a second factor is already enrolled; an operator resets it first');
      const secret = newTotpSecret();
      await deps.db
        .updateTable('users')
        .set({ totp_pending_sealed: deps.secrets.seal(secret, `totp-pending:${userId}`), updated_at: now() })
        .where('id', '=', userId)
        .execute();
      const label = encodeURIComponent(`Carapace:${user.email}`);
      return {
        secret,
        otpauthUri: `otpauth://totp/${label}?secret=${secret}&issuer=Carapace&algorithm=SHA1&digits=6&period=30`,
      };
    },

    /** Records a refused current-password check (a wrong password, or checks paused by the sign-in throttle). */
    async recordPasswordCheckFailure(
      userId: string,
      args: {
        purpose: 'change_password' | 'enroll_mfa';
        reason: 'bad_password' | 'throttled';
        context: RequestContext;
      },
    ): Promise<void> {
      await deps.audit.append(deps.db, {
        type: 'identity.user.password_check_failed',
        actor: { type: 'user', id: userId },
        object: { type: 'user', id: userId },
        action: args.purpose,
        decision: 'deny',
        reason: args.reason,
        context: args.context,
      });
    },

    /**
     * Finishes TOTP enrolment with a code from the pending secret; the secret becomes the user's second factor.
     * Like a password change it raises the credential epoch and ends every session and token of the account, the
     * caller's included: whoever held a token from before is signed out, and the next sign-in needs the new factor.
     */
    async confirmTotpEnrolment(userId: string, code: string): Promise<void> {
      const user = await deps.db
        .selectFrom('users')
        .select(['totp_pending_sealed', 'totp_sealed'])
        .where('id', '=', userId)
        .executeTakeFirstOrThrow();
      if (user.totp_sealed || !user.totp_pending_sealed)
        throw new CarapaceError('ERR_CONFLICT', 'no enrolment is in progress');
      const secret = deps.secrets.open(user.totp_pending_sealed, `totp-pending:${userId}`);
      const step = checkTotp(secret, code, deps.clock.now());
      if (step === null) throw new CarapaceError('ERR_FORBIDDEN', 'the code does not match the new authenticator');
      await deps.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('users')
          .set((eb) => ({
            totp_sealed: deps.secrets.seal(secret, `totp:${userId}`),
            totp_pending_sealed: null,
            totp_last_step: step,
            credential_epoch: eb('credential_epoch', '+', 1),
            updated_at: now(),
          }))
          .where('id', '=', userId)
          .where('totp_sealed', 'is', null)
          .execute();
        const ended = await deps.sessions.revokeAll(trx, userId);
        await deps.audit.append(trx, {
          type: 'identity.user.mfa_enrolled',
          actor: { type: 'user', id: userId },
          object: { type: 'user', id: userId },
          action: 'enroll_mfa',
          decision: 'allow',
          reason: 'tokens revoked',
          details: { endedSessions: ended },
        });
      });
    },

    /** The user's TOTP secret, unsealed, or null when MFA is not enrolled. */
    totpSecretOf(user: Pick<UserRow, 'id' | 'totp_sealed'>): string | null {
      return user.totp_sealed ? deps.secrets.open(user.totp_sealed, `totp:${user.id}`) : null;
    },

    /**
     * Claims a TOTP time step for the user; false when it (or a later one) was already used. Conditional in the
     * database, so two concurrent logins with one code cannot both pass.
     */
    async claimTotpStep(userId: string, step: number): Promise<boolean> {
      const r = await deps.db
        .updateTable('users')
        .set({ totp_last_step: step })
        .where('id', '=', userId)
        .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },

    /** The database, for callers that audit in it. */
    db: deps.db,

    async findUserByEmail(email: string): Promise<UserRow | undefined> {
      return deps.db.selectFrom('users').selectAll().where('email', '=', normalizeEmail(email)).executeTakeFirst();
    },

    async activeMemberships(
      userId: string,
    ): Promise<Array<{ tenantId: string; tenantName: string; tenantKind: TenantKind; role: Role }>> {
      const rows = await deps.db
        .selectFrom('memberships')
        .innerJoin('tenants', 'tenants.id', 'memberships.tenant_id')
        .select(['memberships.tenant_id', 'tenants.name', 'tenants.kind', 'memberships.role'])
        .where('memberships.user_id', '=', userId)
        .where('memberships.ended_at', 'is', null)
        .orderBy('tenants.name')
        .execute();
      return rows.map((r) => ({ tenantId: r.tenant_id, tenantName: r.name, tenantKind: r.kind, role: r.role }));
    },
  };
}

/** The directory service. */
export type Directory = ReturnType<typeof createDirectory>;
