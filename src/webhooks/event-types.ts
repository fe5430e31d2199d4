import type { StoredAuditEvent } from '../audit/index.js';

/**
 * The event types a subscription can ask for. `security` types go to a tenant's own security team only (fleet
 * admins and security admins), never to a partner: the policy `webhook.security-events-people-only` decides it.
 */
export const WEBHOOK_EVENT_TYPES = {
  'command.job.state_changed': { audience: 'vehicle', ordered: true },
  'vehicle.state_changed': { audience: 'vehicle', ordered: true },
  'consent.granted': { audience: 'consent', ordered: false },
  'consent.revoked': { audience: 'consent', ordered: false },
  'detection.finding': { audience: 'security', ordered: false },
  'incident.changed': { audience: 'security', ordered: false },
} as const;

/** One event type a subscription can ask for. */
export type WebhookEventType = keyof typeof WEBHOOK_EVENT_TYPES;
/** The event types as a list (schemas, docs). */
export const EVENT_TYPE_NAMES = Object.keys(WEBHOOK_EVENT_TYPES) as WebhookEventType[];
/** Types sent by the platform itself, never subscribed to: the test ping and the disabled notice. */
export const NOTICE_TYPES = ['webhook.ping', 'webhook.endpoint.disabled'] as const;

/** Whether a type is for the security team only. */
export const isSecurityType = (t: string): boolean =>
  (WEBHOOK_EVENT_TYPES as Record<string, { audience: string }>)[t]?.audience === 'security';

/** What an audit event becomes for subscribers: its type, tenant, the vehicle it is about and its data. */
export interface WebhookEvent {
  type: WebhookEventType;
  /** The audit event's id: the `id` of the payload. */
  id: string;
  tenantId: string | null;
  vehicleId: string | null;
  /** The partner a consent event is about (it is delivered to that partner's own subscriptions). */
  applicationId: string | null;
  orderKey: string | null;
  occurredAt: string;
  data: Record<string, unknown>;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** A command job's state change (requested, then every transition), ordered per job. */
function jobEvent(e: StoredAuditEvent): WebhookEvent | null {
  const jobId = e.object?.id ?? null;
  if (!jobId) return null;
  const requested = e.type === 'commands.job.requested';
  return {
    type: 'command.job.state_changed',
    id: e.id,
    tenantId: e.tenantId,
    vehicleId: str(e.details.vehicleId),
    applicationId: null,
    orderKey: `job:${jobId}`,
    occurredAt: e.occurredAt,
    data: {
      jobId,
      vehicleId: str(e.details.vehicleId),
      command: e.action.replace(/^vehicle:command:/, ''),
      from: requested ? null : str(e.details.from),
      to: requested ? 'requested' : str(e.details.to),
      reason: requested ? null : e.reason,
    },
  };
}

/** A change of a vehicle's locks and doors, gear or charging, as telemetry reported it; ordered per vehicle. */
function stateEvent(e: StoredAuditEvent): WebhookEvent | null {
  const vehicleId = e.object?.id ?? null;
  if (!vehicleId) return null;
  const d = e.details;
  return {
    type: 'vehicle.state_changed',
    id: e.id,
    tenantId: e.tenantId,
    vehicleId,
    applicationId: null,
    orderKey: `vehicle:${vehicleId}`,
    occurredAt: e.occurredAt,
    data: {
      vehicleId,
      changed: d.fields ?? [],
      locked: d.locked ?? null,
      openDoors: d.openDoors ?? [],
      gear: d.gear ?? null,
      charging: d.charging ?? null,
      plugged: d.plugged ?? null,
    },
  };
}

/** A detection finding raised or updated, or an incident opened or moved: for the security team. */
function securityEvent(e: StoredAuditEvent): WebhookEvent | null {
  const finding = e.type.startsWith('detect.');
  const d = e.details;
  return {
    type: finding ? 'detection.finding' : 'incident.changed',
    id: e.id,
    tenantId: e.tenantId,
    vehicleId: null,
    applicationId: null,
    orderKey: null,
    occurredAt: e.occurredAt,
    data: finding
      ? {
          findingId: str(d.findingId),
          change: e.type.split('.').at(-1),
          ruleId: str(d.ruleId),
          severity: str(d.severity),
          status: str(d.status),
          title: str(d.title),
        }
      : {
          incidentId: e.object?.id ?? null,
          change: e.type.split('.').at(-1),
          state: str(d.state) ?? str(d.to),
          severity: str(d.severity),
        },
  };
}

/** The partner grant behind a consent event: its vehicle, partner and scopes (a lookup, for `granted`). */
export interface ConsentFacts {
  grant(
    relationshipId: string,
    at: string,
  ): Promise<{ vehicleId: string; applicationId: string; scopes: string[] } | null>;
}

async function consentEvent(e: StoredAuditEvent, facts: ConsentFacts): Promise<WebhookEvent | null> {
  const granted = e.type === 'relationships.granted';
  if (granted && e.action !== 'grant:partner_grant') return null;
  if (!granted && e.details.kind !== 'partner_grant') return null;
  const relationshipId = granted ? str(e.details.relationshipId) : (e.object?.id ?? null);
  if (!relationshipId) return null;
  const g = granted ? await facts.grant(relationshipId, e.occurredAt) : null;
  const vehicleId = granted ? (g?.vehicleId ?? null) : str(e.details.vehicleId);
  const applicationId = granted ? (g?.applicationId ?? null) : str(e.details.applicationId);
  if (!vehicleId || !applicationId) return null;
  return {
    type: granted ? 'consent.granted' : 'consent.revoked',
    id: e.id,
    tenantId: e.tenantId,
    vehicleId,
    applicationId,
    orderKey: null,
    occurredAt: e.occurredAt,
    data: {
      grantId: relationshipId,
      vehicleId,
      partner: applicationId,
      ...(granted ? { scopes: g?.scopes ?? [] } : { reason: e.reason }),
    },
  };
}

const SECURITY_SOURCES = new Set([
  'detect.finding.raised',
  'detect.finding.updated',
  'detect.finding.resolved',
  'incidents.opened',
  'incidents.transitioned',
]);

/** The webhook event an audit event becomes, or null for the (many) events no subscriber can ask for. */
export async function webhookEventOf(e: StoredAuditEvent, facts: ConsentFacts): Promise<WebhookEvent | null> {
  if (e.type === 'commands.job.requested' || e.type === 'commands.job.transitioned') return jobEvent(e);
  if (SECURITY_SOURCES.has(e.type)) return securityEvent(e);
  if (e.type === 'telemetry.vehicle.state_changed') return stateEvent(e);
  if (e.type === 'relationships.granted' || e.type === 'relationships.ended') return consentEvent(e, facts);
  return null;
}
