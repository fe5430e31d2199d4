import type { Kysely } from 'kysely';
import {
  findApplication,
  findInvitationByCode,
  findTenant,
  findUser,
  membershipsOf,
  operatorTenantId,
} from '../identity/index.js';
import type { AuthorizationFacts } from '../policy/index.js';
import {
  findDelegationInvite,
  findFleetGroup,
  findServiceCase,
  findSupportCase,
  openApproval,
  relationshipsInForce,
  relationshipsNotOver,
} from '../relationships/index.js';
import type { Database } from '../storage/index.js';
import { findVehicles } from '../vehicles/index.js';

/** The facts the policy module's entity loader reads, each from the module that owns its table. */
export function createAuthorizationFacts(db: Kysely<Database>): AuthorizationFacts {
  return {
    user: (id) => findUser(db, id),
    memberships: (userId) => membershipsOf(db, userId),
    application: (clientId) => findApplication(db, clientId),
    tenant: (id) => findTenant(db, id),
    operatorTenantId: () => operatorTenantId(db),
    vehicles: (ids) => findVehicles(db, ids),
    relationshipsInForce: (at, query) => relationshipsInForce(db, at, query),
    relationshipsNotOver: (at, query) => relationshipsNotOver(db, at, query),
    fleetGroup: (id) => findFleetGroup(db, id),
    invitation: (code) => findInvitationByCode(db, code),
    delegationInvite: (id) => findDelegationInvite(db, id),
    serviceCase: (id) => findServiceCase(db, id),
    supportCase: (id) => findSupportCase(db, id),
    openApproval: (args) => openApproval(db, args),
  };
}
