/** Tenant kinds: every object belongs to exactly one tenant. */
export const TENANT_KINDS = ['consumer', 'fleet', 'dealer', 'partner', 'oem'] as const;
/** One tenant kind. */
export type TenantKind = (typeof TENANT_KINDS)[number];

/** Roles a user holds in a tenant. */
export const ROLES = [
  'owner',
  'driver',
  'fleet_admin',
  'fleet_operator',
  'dealer_technician',
  'support_agent',
  'security_admin',
] as const;
/** One role. */
export type Role = (typeof ROLES)[number];

/** Roles that can never come from self-signup: only an invitation from someone allowed to grant them. */
export const PRIVILEGED_ROLES: readonly Role[] = [
  'fleet_admin',
  'fleet_operator',
  'dealer_technician',
  'support_agent',
  'security_admin',
];

/** An organisation. */
export interface TenantRow {
  id: string;
  name: string;
  kind: TenantKind;
  created_at: string;
}

/** A human. The password is an argon2id hash; the TOTP secret is sealed (AES-256-GCM), never in the clear. */
export interface UserRow {
  id: string;
  email: string;
  display_name: string;
  password_hash: string | null;
  totp_sealed: string | null;
  /** The last TOTP time step accepted, so one code cannot be used twice. */
  totp_last_step: number | null;
  /** A TOTP secret offered for enrolment, sealed, until a code from it is confirmed. */
  totp_pending_sealed: string | null;
  status: 'active' | 'disabled';
  /** Raised on password change or MFA reset; tokens minted under an older epoch are dead. */
  credential_epoch: number;
  created_at: string;
  updated_at: string;
}

/** A user's role in a tenant, with its history. */
export interface MembershipRow {
  id: string;
  user_id: string;
  tenant_id: string;
  role: Role;
  granted_by: string | null;
  granted_at: string;
  ended_at: string | null;
}

/** How an application authenticates at the token endpoint. */
export type ApplicationKind = 'public' | 'confidential' | 'partner';

/** A registered OAuth client: an app, a web console, a dealer tool or a partner service. */
export interface ApplicationRow {
  id: string;
  client_id: string;
  tenant_id: string;
  name: string;
  kind: ApplicationKind;
  /** JSON arrays. */
  redirect_uris: string;
  scopes: string;
  /** JSON public JWKS for private_key_jwt (partners); null otherwise. */
  jwks: string | null;
  created_at: string;
}

/** An internal service: short-lived client credentials, never network location. */
export interface WorkloadRow {
  id: string;
  client_id: string;
  name: string;
  scopes: string;
  jwks: string;
  created_at: string;
}

/** An invitation to a role in a tenant; the code is stored only as a hash. */
export interface InvitationRow {
  id: string;
  tenant_id: string;
  email: string;
  role: Role;
  invited_by: string;
  code_hash: string;
  created_at: string;
  expires_at: string;
  accepted_at: string | null;
  accepted_by: string | null;
}

/**
 * A user's account at an external OpenID Connect issuer, linked to the Carapace user it signs in as. The key is
 * (issuer, subject): an email address alone never links an account.
 */
export interface FederatedIdentityRow {
  issuer: string;
  subject: string;
  user_id: string;
  /** How the link was made: `operator` (the admin API) or `verified_email` (first sign-in, where allowed). */
  linked_via: 'operator' | 'verified_email';
  linked_at: string;
}

/** Tables owned by the identity module. */
export interface IdentityTables {
  federated_identities: FederatedIdentityRow;
  invitations: InvitationRow;
  tenants: TenantRow;
  users: UserRow;
  memberships: MembershipRow;
  applications: ApplicationRow;
  workloads: WorkloadRow;
}

declare module '../storage/index.js' {
  /** This module's tables, as part of the one database every module shares (each touches only its own). */
  interface Database extends IdentityTables {}
}
