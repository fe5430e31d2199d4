import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { Clock } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { ROLES } from '../identity/index.js';
import { type Entity, type EntityRef, ref } from './decision-point.js';
import type { AuthorizationFacts, RelationshipQuery } from './facts.js';

/** A relationship record, typed by its table: the policy module reads it without importing relationships. */
type RelationshipRow = Database['relationships'];

/** Who is asking: a person (through an application) or a partner service acting for itself. */
export type Principal = { kind: 'user'; userId: string; clientId: string } | { kind: 'application'; clientId: string };

/** A loaded object: its Cedar reference, the entities that describe it, and the row handlers receive. */
export interface LoadedResource<T = unknown> {
  uid: EntityRef;
  entities: Entity[];
  /** Null when no such object exists: the decision still runs (and denies), so timing does not tell. */
  object: T | null;
  /** The vehicle the object concerns, if any: where the caller's own delegation or grant is looked up. */
  vehicleId?: string | null;
  /** The tenant the object belongs to, when it exists: recorded with every decision about it. */
  tenantId?: string | null;
}

/** The tenant of a vehicle: its fleet, or else its owner's household. */
function vehicleTenant(rels: RelationshipRow[]): string | null {
  return (
    rels.find((r) => r.kind === 'fleet_vehicle')?.tenant_id ??
    rels.find((r) => r.kind === 'ownership')?.tenant_id ??
    null
  );
}

const refs = (type: string, ids: Iterable<string>): CedarValueJson[] =>
  [...new Set(ids)].sort().map((id) => ref(type, id));
const parse = (json: string): Record<string, unknown> => JSON.parse(json) as Record<string, unknown>;
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** A fleet group as a Cedar resource, from a row already read (list routes decide many without a query each). */
export function groupResource<T extends { id: string; tenant_id: string }>(row: T): LoadedResource<T> {
  const uid = { type: 'FleetGroup', id: row.id };
  return {
    uid,
    entities: [
      { uid, attrs: { tenant: ref('Tenant', row.tenant_id) }, parents: [{ type: 'Tenant', id: row.tenant_id }] },
    ],
    object: row,
    tenantId: row.tenant_id,
  };
}

/** A person who holds no role anywhere: how an unknown or disabled user appears as someone else's attribute. */
function noRoles(userId: string): Entity {
  return {
    uid: { type: 'User', id: userId },
    attrs: { email: '', roles: Object.fromEntries(ROLES.map((r) => [r, []])), fleetGroups: [] },
  };
}

/**
 * Builds Cedar entities from the directory and the relationship store, fresh for every request, as of the
 * injected clock. Each loader runs the same queries whether or not the object exists.
 */
export function createEntityLoader(deps: { facts: AuthorizationFacts; clock: Clock }) {
  const { facts } = deps;
  const inForce = (at: string, query: RelationshipQuery) => facts.relationshipsInForce(at, query);

  /**
   * The vehicle entity: everyone with a relationship to it now. More than one owner or fleet is a data error and grants
   * nothing.
   */
  function vehicleEntity(id: string, rels: RelationshipRow[]): Entity {
    const by = (kind: RelationshipRow['kind']) => rels.filter((r) => r.kind === kind);
    const owners = [
      ...new Set(
        by('ownership')
          .map((r) => r.user_id)
          .filter((u): u is string => u !== null),
      ),
    ];
    const fleets = [
      ...new Set(
        by('fleet_vehicle')
          .map((r) => r.tenant_id)
          .filter((t): t is string => t !== null),
      ),
    ];
    const attrs: Record<string, CedarValueJson> = {
      drivers: refs(
        'User',
        by('delegation').flatMap((r) => (r.user_id ? [r.user_id] : [])),
      ),
      serviceDealers: refs(
        'Tenant',
        by('service_case').flatMap((r) => (r.tenant_id ? [r.tenant_id] : [])),
      ),
      // Only a case about the current owner's account covers the vehicle: support follows the account.
      supportAgents: refs(
        'User',
        by('support_case').flatMap((r) =>
          r.user_id && owners.length === 1 && r.account_id === owners[0] ? [r.user_id] : [],
        ),
      ),
      partners: refs(
        'Application',
        by('partner_grant').flatMap((r) => (r.application_id ? [r.application_id] : [])),
      ),
    };
    if (owners.length === 1) attrs.owner = ref('User', owners[0] as string);
    if (fleets.length === 1) attrs.fleet = ref('Tenant', fleets[0] as string);
    const groups = [...new Set(by('fleet_vehicle').flatMap((r) => (r.group_id ? [r.group_id] : [])))];
    return { uid: { type: 'Vehicle', id }, attrs, parents: groups.map((g) => ({ type: 'FleetGroup', id: g })) };
  }

  /** A person as a Cedar entity: their roles per tenant and their fleet groups; null if unknown or disabled. */
  async function userEntity(userId: string, at: string): Promise<Entity | null> {
    const [user, memberships, groups] = await Promise.all([
      facts.user(userId),
      facts.memberships(userId),
      inForce(at, { userId, kind: 'fleet_group_member' }),
    ]);
    if (!user || user.status !== 'active') return null;
    const roles = Object.fromEntries(
      ROLES.map((role) => [
        role,
        refs(
          'Tenant',
          memberships.filter((m) => m.role === role).map((m) => m.tenantId),
        ),
      ]),
    );
    return {
      uid: { type: 'User', id: user.id },
      attrs: {
        email: user.email,
        roles,
        fleetGroups: refs(
          'FleetGroup',
          groups.flatMap((g) => (g.group_id ? [g.group_id] : [])),
        ),
      },
    };
  }

  return {
    /** The principal entity, or null if the person or application is unknown or disabled. */
    async principal(p: Principal): Promise<Entity | null> {
      const at = deps.clock.now().toISOString();
      if (p.kind === 'application') {
        const app = await facts.application(p.clientId);
        return app
          ? {
              uid: { type: 'Application', id: app.client_id },
              attrs: { kind: app.kind, tenant: ref('Tenant', app.tenant_id) },
            }
          : null;
      }
      return userEntity(p.userId, at);
    },

    /** A vehicle and its relationships in force now. */
    async vehicle(
      id: string,
    ): Promise<LoadedResource<{ id: string; vin: string | null; relationships: RelationshipRow[] }>> {
      const at = deps.clock.now().toISOString();
      const [[row], rels] = await Promise.all([facts.vehicles([id]), inForce(at, { vehicleIds: [id] })]);
      return {
        uid: { type: 'Vehicle', id },
        entities: [vehicleEntity(id, row ? rels : [])],
        object: row ? { ...row, relationships: rels } : null,
        vehicleId: id,
        tenantId: row ? vehicleTenant(rels) : null,
      };
    },

    /** Many vehicles at once (list filtering): two queries whatever the count, in the order asked. */
    async vehicles(
      ids: string[],
    ): Promise<LoadedResource<{ id: string; vin: string | null; relationships: RelationshipRow[] }>[]> {
      if (ids.length === 0) return [];
      const at = deps.clock.now().toISOString();
      const [rows, rels] = await Promise.all([facts.vehicles(ids), inForce(at, { vehicleIds: ids })]);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => {
        const row = byId.get(id);
        const mine = row ? rels.filter((r) => r.vehicle_id === id) : [];
        return {
          uid: { type: 'Vehicle', id },
          entities: [vehicleEntity(id, mine)],
          object: row ? { ...row, relationships: mine } : null,
          vehicleId: id,
          tenantId: row ? vehicleTenant(mine) : null,
        };
      });
    },

    /** A person's account; support agents with an open case about it can see it. */
    async account(userId: string): Promise<LoadedResource<{ id: string; email: string; display_name: string }>> {
      const at = deps.clock.now().toISOString();
      const [found, cases] = await Promise.all([
        facts.user(userId),
        inForce(at, { accountId: userId, kind: 'support_case' }),
      ]);
      const user = found ? { id: found.id, email: found.email, display_name: found.displayName } : undefined;
      const attrs = {
        user: ref('User', userId),
        supportAgents: refs('User', user ? cases.flatMap((c) => (c.user_id ? [c.user_id] : [])) : []),
      };
      return {
        uid: { type: 'Account', id: userId },
        entities: [{ uid: { type: 'Account', id: userId }, attrs }],
        object: user ?? null,
      };
    },

    /** A tenant. */
    async tenant(id: string): Promise<LoadedResource<{ id: string; name: string; kind: string }>> {
      const row = await facts.tenant(id);
      return {
        uid: { type: 'Tenant', id },
        entities: [{ uid: { type: 'Tenant', id }, attrs: { kind: row?.kind ?? '' } }],
        object: row ?? null,
        tenantId: row?.id ?? null,
      };
    },

    /** A fleet group, inside its tenant. */
    async group(id: string): Promise<LoadedResource<Database['fleet_groups']>> {
      const row = await facts.fleetGroup(id);
      if (row) return groupResource(row);
      const uid = { type: 'FleetGroup', id };
      return {
        uid,
        entities: [{ uid, attrs: { tenant: ref('Tenant', '') }, parents: [] }],
        object: null,
        tenantId: null,
      };
    },

    /** The deployment, run by its operator (OEM) tenant. */
    async platform(): Promise<LoadedResource<{ operatorTenantId: string }>> {
      const oemId = await facts.operatorTenantId();
      const oem = oemId === undefined ? undefined : { id: oemId };
      const operator = oem?.id ?? '';
      return {
        uid: { type: 'Platform', id: 'carapace' },
        entities: [{ uid: { type: 'Platform', id: 'carapace' }, attrs: { operator: ref('Tenant', operator) } }],
        object: oem ? { operatorTenantId: operator } : null,
        tenantId: oem?.id ?? null,
      };
    },

    /** A relationship that is a delegation or partner grant, with its vehicle; ended ones load as missing. */
    async grant(kind: 'delegation' | 'partner_grant', id: string): Promise<LoadedResource<RelationshipRow>> {
      const at = deps.clock.now().toISOString();
      const [row] = await inForce(at, { id, kind });
      const vehicleId = row?.vehicle_id ?? '';
      const rels = await inForce(at, { vehicleIds: [vehicleId] });
      const type = kind === 'delegation' ? 'Delegation' : 'PartnerGrant';
      const attrs: Record<string, CedarValueJson> =
        kind === 'delegation'
          ? {
              vehicle: ref('Vehicle', vehicleId),
              driver: ref('User', row?.user_id ?? ''),
              grantedBy: ref('User', (row?.granted_by ?? '').replace(/^user:/, '')),
              commands: strings(parse(row?.attributes ?? '{}').commands),
            }
          : {
              vehicle: ref('Vehicle', vehicleId),
              partner: ref('Application', row?.application_id ?? ''),
              scopes: strings(parse(row?.attributes ?? '{}').scopes),
            };
      return {
        uid: { type, id },
        entities: [{ uid: { type, id }, attrs }, vehicleEntity(vehicleId, row ? rels : [])],
        object: row ?? null,
        vehicleId: row?.vehicle_id ?? null,
        tenantId: row ? vehicleTenant(rels) : null,
      };
    },

    /**
     * A tenant invitation, named by its one-time code, with its inviter as they are now (their roles decide
     * whether a privileged role can still be granted). A disabled or unknown inviter loads with no roles.
     */
    async invitation(code: string, p: Principal): Promise<LoadedResource<Database['invitations']>> {
      const at = deps.clock.now().toISOString();
      const row = await facts.invitation(code);
      const inviterId = row?.invited_by ?? '';
      const self = p.kind === 'user' && p.userId === inviterId;
      const inviter = self ? null : ((await userEntity(inviterId, at)) ?? noRoles(inviterId));
      const id = row?.id ?? 'unknown';
      const status = !row ? 'unknown' : row.accepted_at ? 'accepted' : row.expires_at <= at ? 'expired' : 'pending';
      const attrs: Record<string, CedarValueJson> = {
        tenant: ref('Tenant', row?.tenant_id ?? ''),
        role: row?.role ?? '',
        inviteeEmail: row?.email ?? '',
        invitedBy: ref('User', inviterId),
        status,
      };
      return {
        uid: { type: 'Invitation', id },
        entities: [{ uid: { type: 'Invitation', id }, attrs }, ...(inviter ? [inviter] : [])],
        object: row ?? null,
        tenantId: row?.tenant_id ?? null,
      };
    },

    /** A delegation invite, with its vehicle. */
    async invite(id: string): Promise<LoadedResource<Database['delegation_invites']>> {
      const at = deps.clock.now().toISOString();
      const row = await facts.delegationInvite(id);
      const vehicleId = row?.vehicle_id ?? '';
      const rels = await inForce(at, { vehicleIds: [vehicleId] });
      const attrs = {
        vehicle: ref('Vehicle', vehicleId),
        inviteeEmail: row?.invitee_email ?? '',
        grantedBy: ref('User', row?.created_by ?? ''),
        status: row && row.expires_at > at ? row.status : 'expired',
      };
      return {
        uid: { type: 'DelegationInvite', id },
        entities: [{ uid: { type: 'DelegationInvite', id }, attrs }, vehicleEntity(vehicleId, row ? rels : [])],
        object: row ?? null,
        vehicleId: row?.vehicle_id ?? null,
        tenantId: row ? vehicleTenant(rels) : null,
      };
    },

    /** A dealer service case, with its vehicle. A case whose time box has passed loads as closed. */
    async serviceCase(id: string): Promise<LoadedResource<Database['service_cases']>> {
      const at = deps.clock.now().toISOString();
      const row = await facts.serviceCase(id);
      const vehicleId = row?.vehicle_id ?? '';
      const rels = await inForce(at, { vehicleIds: [vehicleId] });
      const status = row
        ? row.status === 'open' && row.closes_at !== null && row.closes_at <= at
          ? 'closed'
          : row.status
        : 'closed';
      const attrs: Record<string, CedarValueJson> = { dealer: ref('Tenant', row?.dealer_tenant_id ?? ''), status };
      const entities: Entity[] = [{ uid: { type: 'ServiceCase', id }, attrs }];
      if (row?.vehicle_id) {
        attrs.vehicle = ref('Vehicle', row.vehicle_id);
        entities.push(vehicleEntity(row.vehicle_id, rels));
      }
      return {
        uid: { type: 'ServiceCase', id },
        entities,
        object: row ? { ...row, status } : null,
        vehicleId: row?.vehicle_id ?? null,
        tenantId: row?.dealer_tenant_id ?? null,
      };
    },

    /** A support case, with its account and vehicle. */
    async supportCase(id: string): Promise<LoadedResource<Database['support_cases']>> {
      const row = await facts.supportCase(id);
      const attrs: Record<string, CedarValueJson> = {
        operator: ref('Tenant', row?.operator_tenant_id ?? ''),
        assignee: ref('User', row?.assignee_id ?? ''),
        account: ref('Account', row?.account_id ?? ''),
        status: row?.status ?? 'closed',
      };
      if (row?.vehicle_id) attrs.vehicle = ref('Vehicle', row.vehicle_id);
      return {
        uid: { type: 'SupportCase', id },
        entities: [{ uid: { type: 'SupportCase', id }, attrs }],
        object: row ?? null,
        vehicleId: row?.vehicle_id ?? null,
        tenantId: row?.operator_tenant_id ?? null,
      };
    },

    /**
     * The caller's own delegation or partner grant for many vehicles at once (list filtering, never a
     * command): one query whatever the count.
     */
    async callerContexts(
      p: Principal,
      vehicleIds: string[],
    ): Promise<Map<string, { context: Record<string, CedarValueJson>; entities: Entity[] }>> {
      const out = new Map<string, { context: Record<string, CedarValueJson>; entities: Entity[] }>();
      for (const id of vehicleIds) out.set(id, { context: {}, entities: [] });
      if (vehicleIds.length === 0) return out;
      const at = deps.clock.now().toISOString();
      const rows =
        p.kind === 'user'
          ? await inForce(at, { vehicleIds, kind: 'delegation', userId: p.userId })
          : await inForce(at, { vehicleIds, kind: 'partner_grant', applicationId: p.clientId });
      // The latest record per vehicle, as callerContext picks it.
      const latest = new Map<string, RelationshipRow>();
      for (const r of rows) if (r.vehicle_id) latest.set(r.vehicle_id, r);
      for (const [vehicleId, own] of latest) {
        const entry = out.get(vehicleId);
        if (!entry) continue;
        if (p.kind === 'user') {
          entry.entities.push({
            uid: { type: 'Delegation', id: own.id },
            attrs: {
              vehicle: ref('Vehicle', vehicleId),
              driver: ref('User', p.userId),
              grantedBy: ref('User', own.granted_by.replace(/^user:/, '')),
              commands: strings(parse(own.attributes).commands),
            },
          });
          entry.context.delegation = ref('Delegation', own.id);
        } else {
          entry.entities.push({
            uid: { type: 'PartnerGrant', id: own.id },
            attrs: {
              vehicle: ref('Vehicle', vehicleId),
              partner: ref('Application', p.clientId),
              scopes: strings(parse(own.attributes).scopes),
            },
          });
          entry.context.partnerGrant = ref('PartnerGrant', own.id);
        }
      }
      return out;
    },

    /**
     * The caller's own records about a vehicle that some policies need in context: their delegation, their
     * partner grant, and (for a command) an unexpired, unused just-in-time approval.
     */
    async callerContext(
      p: Principal,
      vehicleId: string | null | undefined,
      command: string | null,
    ): Promise<{ context: Record<string, CedarValueJson>; entities: Entity[] }> {
      const context: Record<string, CedarValueJson> = {};
      const entities: Entity[] = [];
      if (!vehicleId) return { context, entities };
      const at = deps.clock.now().toISOString();
      const mine =
        p.kind === 'user'
          ? await inForce(at, { vehicleIds: [vehicleId], kind: 'delegation', userId: p.userId })
          : await inForce(at, { vehicleIds: [vehicleId], kind: 'partner_grant', applicationId: p.clientId });
      const own = mine.at(-1);
      if (own && p.kind === 'user') {
        entities.push({
          uid: { type: 'Delegation', id: own.id },
          attrs: {
            vehicle: ref('Vehicle', vehicleId),
            driver: ref('User', p.userId),
            grantedBy: ref('User', own.granted_by.replace(/^user:/, '')),
            commands: strings(parse(own.attributes).commands),
          },
        });
        context.delegation = ref('Delegation', own.id);
      } else if (own && p.kind === 'application') {
        entities.push({
          uid: { type: 'PartnerGrant', id: own.id },
          attrs: {
            vehicle: ref('Vehicle', vehicleId),
            partner: ref('Application', p.clientId),
            scopes: strings(parse(own.attributes).scopes),
          },
        });
        context.partnerGrant = ref('PartnerGrant', own.id);
      }
      if (command !== null && p.kind === 'user') {
        const approval = await facts.openApproval({ agentId: p.userId, vehicleId, command, at });
        if (approval) {
          entities.push({
            uid: { type: 'JitApproval', id: approval.id },
            attrs: {
              supportCase: ref('SupportCase', approval.support_case_id),
              agent: ref('User', approval.agent_id),
              vehicle: ref('Vehicle', vehicleId),
              command: approval.command,
            },
          });
          context.jitApproval = ref('JitApproval', approval.id);
        }
      }
      return { context, entities };
    },
  };
}

/** The entity loader. */
export type EntityLoader = ReturnType<typeof createEntityLoader>;
