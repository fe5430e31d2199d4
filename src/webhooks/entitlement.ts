import { cedarRequest, type Entity, type Principal } from '../policy/index.js';
import { isSecurityType, WEBHOOK_EVENT_TYPES } from './event-types.js';
import type { WebhookDeps } from './ports.js';
import type { WebhookSubscriptionRow } from './tables.js';

/** What is decided about one event for one subscription: its type and the vehicle it is about. */
export interface EntitlementQuestion {
  eventType: string;
  vehicleId: string | null;
}

/** A decision's outcome: null when the owner may receive it now, else why not (recorded on a withheld delivery). */
export type Withheld = string | null;

/** The client id decisions about deliveries are made with (no person's token is involved). */
const WORKER_CLIENT = 'carapace-webhooks';

/**
 * Decides, with the subscription owner's rights as they are NOW, whether an event may be delivered: the same Cedar
 * policies as the API (a partner's current consent and scopes for a vehicle, a person's current relationship to
 * it, security events for the tenant's fleet and security admins only). Run at fan-out and again before every
 * attempt, so a transfer, an ended consent or a suspended partner stops deliveries already queued.
 */
export function createEntitlement(deps: Pick<WebhookDeps, 'decisions' | 'load' | 'isSuspended'>) {
  async function ownerOf(sub: WebhookSubscriptionRow): Promise<{ p: Principal; entity: Entity } | string> {
    const p: Principal =
      sub.owner_kind === 'application'
        ? { kind: 'application', clientId: sub.owner_id }
        : { kind: 'user', userId: sub.owner_id, clientId: WORKER_CLIENT };
    if (p.kind === 'application' && (await deps.isSuspended(p.clientId))) return 'partner_suspended';
    const entity = await deps.load.principal(p);
    if (!entity) return sub.owner_kind === 'application' ? 'partner_unknown' : 'owner_disabled';
    return { p, entity };
  }

  const decide = (
    owner: { p: Principal; entity: Entity },
    action: string,
    resource: Parameters<typeof cedarRequest>[0]['resource'],
    caller: Parameters<typeof cedarRequest>[0]['caller'],
  ) =>
    deps.decisions.decide(
      cedarRequest({
        principal: owner.entity,
        action,
        resource,
        token: { clientId: owner.p.clientId, scopes: [], acr: null },
        caller,
      }),
    ).decision === 'allow';

  async function vehicleRight(
    sub: WebhookSubscriptionRow,
    owner: { p: Principal; entity: Entity },
    vehicleId: string,
    action: string,
  ) {
    const [resource, caller] = await Promise.all([
      deps.load.vehicle(vehicleId),
      deps.load.callerContext(owner.p, vehicleId, null),
    ]);
    // A person's endpoint is the tenant's: it hears of the tenant's vehicles only, never of those its owner sees
    // through another membership (any admin of the tenant may repoint it). Partners' grants cross tenants.
    if (owner.p.kind === 'user' && resource.tenantId !== sub.tenant_id) return 'vehicle_not_in_tenant';
    if (decide(owner, action, resource, caller)) return null;
    if (owner.p.kind === 'application') return caller.context.partnerGrant ? 'scope_not_granted' : 'consent_ended';
    return 'vehicle_not_related';
  }

  return {
    /** Null when `sub`'s owner may receive the event now; otherwise the reason it is withheld. */
    async check(sub: WebhookSubscriptionRow, q: EntitlementQuestion): Promise<Withheld> {
      const owner = await ownerOf(sub);
      if (typeof owner === 'string') return owner;
      const none = { context: {}, entities: [] };
      if (owner.p.kind === 'user' || isSecurityType(q.eventType)) {
        const tenant = await deps.load.tenant(sub.tenant_id);
        // A person who no longer administers the tenant no longer receives through its endpoints. Asked as
        // webhook:receive_security, permitted to people exactly as webhook:manage is but needing no token scope.
        if (owner.p.kind === 'user' && !decide(owner, 'webhook:receive_security', tenant, none))
          return 'owner_not_admin';
        if (isSecurityType(q.eventType))
          return decide(owner, 'webhook:receive_security', tenant, none) ? null : 'not_security_team';
      }
      const audience = (WEBHOOK_EVENT_TYPES as Record<string, { audience: string }>)[q.eventType]?.audience;
      if (audience === 'vehicle')
        return q.vehicleId ? vehicleRight(sub, owner, q.vehicleId, 'vehicle:read_status') : 'no_vehicle';
      // A partner always hears about its own consents (a revocation too); people only about vehicles they see.
      if (audience === 'consent' && owner.p.kind === 'user')
        return q.vehicleId ? vehicleRight(sub, owner, q.vehicleId, 'vehicle:read') : 'no_vehicle';
      return null;
    },
  };
}

/** The entitlement check. */
export type Entitlement = ReturnType<typeof createEntitlement>;
