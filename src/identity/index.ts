export { createDirectory, normalizeEmail, type Directory, type DirectoryActor } from './directory.js';
export { createSecretBox, type SecretBox } from './secret-box.js';
export { hashPassword, verifyPassword, checkTotp, currentTotp, newTotpSecret } from './credentials.js';
export { identityMigrations } from './migrations.js';
export {
  TENANT_KINDS,
  ROLES,
  PRIVILEGED_ROLES,
  type Role,
  type TenantKind,
  type IdentityTables,
  type UserRow,
  type TenantRow,
  type InvitationRow,
  type FederatedIdentityRow,
} from './tables.js';
export { createInvitations, type Invitations } from './invitations.js';
export { federatedIdentitiesOf, findFederatedUser, linkFederatedIdentity } from './federation.js';
export {
  findActiveUserByEmail,
  findApplication,
  findInvitationByCode,
  findMember,
  findTenant,
  findUser,
  findUserByEmail,
  findUsers,
  findWorkload,
  hasUsers,
  invitationCodeHash,
  membershipsOf,
  operatorTenantId,
  partnerApplications,
  passwordMatches,
  tenantsWhereRole,
  type UserSummary,
} from './reads.js';
export { IDENTITY_AUDIT_EVENTS, type IdentityAuditEvent, type IdentityAuditLog } from './audit-events.js';
