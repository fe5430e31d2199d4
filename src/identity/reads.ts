/**
 * What other modules may read of the identity tables. Each function takes the caller's database handle (or its
 * transaction), so a read can sit inside another module's transaction; none returns a credential.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { verifyPassword } from './credentials.js';
import type { ApplicationRow, InvitationRow, Role, TenantKind, WorkloadRow } from './tables.js';

/** A user as other modules see them: no password hash, no TOTP secret. */
export interface UserSummary {
  id: string;
  email: string;
  displayName: string;
  status: 'active' | 'disabled';
  /** Raised by every credential change; tokens minted under an older epoch are dead. */
  credentialEpoch: number;
}

/** Whether any user exists (an empty directory is the embedded first start). */
export async function hasUsers(db: Kysely<Database>): Promise<boolean> {
  return (await db.selectFrom('users').select('id').limit(1).execute()).length > 0;
}

/** One user by id, or undefined. */
export async function findUser(db: Kysely<Database>, id: string): Promise<UserSummary | undefined> {
  const row = await db
    .selectFrom('users')
    .select(['id', 'email', 'display_name', 'status', 'credential_epoch'])
    .where('id', '=', id)
    .executeTakeFirst();
  return row ? summary(row) : undefined;
}

/** Several users by id, in one query. */
export async function findUsers(db: Kysely<Database>, ids: readonly string[]): Promise<UserSummary[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('users')
    .select(['id', 'email', 'display_name', 'status', 'credential_epoch'])
    .where('id', 'in', [...ids])
    .execute();
  return rows.map(summary);
}

/** A user by email address (case-insensitive), whatever their status, or undefined. */
export async function findUserByEmail(db: Kysely<Database>, email: string): Promise<UserSummary | undefined> {
  const row = await db
    .selectFrom('users')
    .select(['id', 'email', 'display_name', 'status', 'credential_epoch'])
    .where('email', '=', email.trim().toLowerCase())
    .executeTakeFirst();
  return row ? summary(row) : undefined;
}

/** An active user by email address (case-insensitive), or undefined. */
export async function findActiveUserByEmail(db: Kysely<Database>, email: string): Promise<UserSummary | undefined> {
  const row = await db
    .selectFrom('users')
    .select(['id', 'email', 'display_name', 'status', 'credential_epoch'])
    .where('email', '=', email.trim().toLowerCase())
    .where('status', '=', 'active')
    .executeTakeFirst();
  return row ? summary(row) : undefined;
}

/** Whether `password` is the user's current password; false for an unknown user or one without a password. */
export async function passwordMatches(db: Kysely<Database>, userId: string, password: string): Promise<boolean> {
  const row = await db.selectFrom('users').select(['password_hash']).where('id', '=', userId).executeTakeFirst();
  return row?.password_hash ? verifyPassword(row.password_hash, password) : false;
}

function summary(row: {
  id: string;
  email: string;
  display_name: string;
  status: 'active' | 'disabled';
  credential_epoch: number;
}): UserSummary {
  return {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    status: row.status,
    credentialEpoch: row.credential_epoch,
  };
}

/** The memberships in force of a user: tenant and role. */
export async function membershipsOf(
  db: Kysely<Database>,
  userId: string,
): Promise<Array<{ tenantId: string; role: Role }>> {
  const rows = await db
    .selectFrom('memberships')
    .select(['tenant_id', 'role'])
    .where('user_id', '=', userId)
    .where('ended_at', 'is', null)
    .orderBy('tenant_id')
    .execute();
  return rows.map((r) => ({ tenantId: r.tenant_id, role: r.role }));
}

/** The tenants in which a user holds `role` now. */
export async function tenantsWhereRole(db: Kysely<Database>, userId: string, role: Role): Promise<string[]> {
  return (await membershipsOf(db, userId)).filter((m) => m.role === role).map((m) => m.tenantId);
}

/** The active user with this email who holds `role` in `tenantId`, or undefined. */
export async function findMember(
  db: Kysely<Database>,
  args: { email: string; tenantId: string; role: Role },
): Promise<UserSummary | undefined> {
  const user = await findActiveUserByEmail(db, args.email);
  if (!user) return undefined;
  const roles = await tenantsWhereRole(db, user.id, args.role);
  return roles.includes(args.tenantId) ? user : undefined;
}

/** A tenant by id, or undefined. */
export async function findTenant(
  db: Kysely<Database>,
  id: string,
): Promise<{ id: string; name: string; kind: TenantKind } | undefined> {
  return db.selectFrom('tenants').select(['id', 'name', 'kind']).where('id', '=', id).executeTakeFirst();
}

/** The platform operator's tenant: the first OEM tenant created, or undefined before there is one. */
export async function operatorTenantId(db: Kysely<Database>): Promise<string | undefined> {
  const row = await db
    .selectFrom('tenants')
    .select(['id'])
    .where('kind', '=', 'oem')
    .orderBy('created_at')
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
  return row?.id;
}

/** A registered application (OAuth client) by client id, or undefined. */
export async function findApplication(db: Kysely<Database>, clientId: string): Promise<ApplicationRow | undefined> {
  return db.selectFrom('applications').selectAll().where('client_id', '=', clientId).executeTakeFirst();
}

/** A registered workload by client id, or undefined. */
export async function findWorkload(db: Kysely<Database>, clientId: string): Promise<WorkloadRow | undefined> {
  return db.selectFrom('workloads').selectAll().where('client_id', '=', clientId).executeTakeFirst();
}

/** How an invitation code is stored: only its hash, so the table never holds a usable code. */
export function invitationCodeHash(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}

/** The invitation a one-time code names, or undefined; the code itself is never stored. */
export async function findInvitationByCode(db: Kysely<Database>, code: string): Promise<InvitationRow | undefined> {
  if (code === '') return undefined;
  return db.selectFrom('invitations').selectAll().where('code_hash', '=', invitationCodeHash(code)).executeTakeFirst();
}

/** The registered partner applications (client id and registration time), for the governance metrics. */
export async function partnerApplications(
  db: Kysely<Database>,
): Promise<Array<{ clientId: string; createdAt: string }>> {
  const rows = await db
    .selectFrom('applications')
    .select(['client_id', 'created_at'])
    .where('kind', '=', 'partner')
    .orderBy('client_id')
    .execute();
  return rows.map((r) => ({ clientId: r.client_id, createdAt: r.created_at }));
}
