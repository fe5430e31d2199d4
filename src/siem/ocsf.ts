import type { ActorType, StoredAuditEvent } from '../audit/index.js';
import { apiActivityFor, OCSF_CLASSES, OCSF_RULES, type OcsfClassName, type OcsfRule, ruleFor } from './ocsf-rules.js';

/** The OCSF schema version the records follow. */
export const OCSF_VERSION = '1.3.0';

/** One OCSF record: a plain JSON object (the schema is open; the tests check the required fields). */
export type OcsfRecord = Record<string, unknown>;

/** What the mapper needs besides the event: the product version, and rules a later module adds first. */
export interface OcsfOptions {
  productVersion: string;
  /** Tried before the built-in rules: the extension point for the detections issue's finding classes. */
  extraRules?: readonly OcsfRule[];
}

// OCSF user.type_id: 1 User, 2 Admin, 3 System, 99 Other. Devices and workloads are not people: Other, named.
const USER_TYPE: Record<ActorType, [number, string]> = {
  user: [1, 'User'],
  operator: [2, 'Admin'],
  system: [3, 'System'],
  device: [99, 'Device'],
  application: [99, 'Application'],
  workload: [99, 'Workload'],
  anonymous: [0, 'Unknown'],
};

/** A finding of the detection engine (`detect.finding.*`): rule, severity, assets and evidence in its details. */
const isDetection = (e: StoredAuditEvent) => e.type.startsWith('detect.finding.');

// Detection Finding status_id: 1 New, 3 Suppressed, 4 Resolved; severity_id 2 Low .. 5 Critical.
const FINDING_STATUS: Record<string, { status_id: number; status: string }> = {
  open: { status_id: 1, status: 'New' },
  suppressed: { status_id: 3, status: 'Suppressed' },
  resolved: { status_id: 4, status: 'Resolved' },
};
const FINDING_SEVERITY: Record<string, { severity_id: number; severity: string }> = {
  low: { severity_id: 2, severity: 'Low' },
  medium: { severity_id: 3, severity: 'Medium' },
  high: { severity_id: 4, severity: 'High' },
  critical: { severity_id: 5, severity: 'Critical' },
};

/** The asset kinds of a finding and the resource type each becomes. */
const ASSET_TYPES: Record<string, string> = {
  vehicles: 'vehicle',
  devices: 'device',
  users: 'user',
  clients: 'client',
  tenants: 'tenant',
  serials: 'certificate_serial',
  thumbprints: 'certificate_thumbprint',
  networks: 'network',
};

/** Detection Finding fields of an engine finding: the rule as the analytic, the assets, the evidence events. */
function detectionFields(e: StoredAuditEvent): Record<string, unknown> {
  const d = e.details;
  const list = (k: string) => (Array.isArray(d[k]) ? (d[k] as string[]) : []);
  const resources = Object.entries(ASSET_TYPES).flatMap(([kind, type]) => list(kind).map((uid) => ({ uid, type })));
  return {
    finding_info: {
      uid: String(d.findingId ?? e.object?.id ?? e.id),
      title: String(d.title ?? d.ruleId ?? e.type),
      desc: typeof d.summary === 'string' ? d.summary : undefined,
      types: [String(d.ruleId ?? e.type)],
      analytic:
        typeof d.ruleId === 'string'
          ? {
              uid: d.ruleId,
              name: String(d.title ?? d.ruleId),
              type_id: 1,
              type: 'Rule',
              version: String(d.ruleVersion),
            }
          : undefined,
      first_seen_time_dt: typeof d.firstSeen === 'string' ? d.firstSeen : undefined,
      last_seen_time_dt: typeof d.lastSeen === 'string' ? d.lastSeen : undefined,
      related_events: list('evidence').map((uid) => ({ uid })),
    },
    count: typeof d.count === 'number' ? d.count : undefined,
    ...(resources.length ? { resources } : {}),
  };
}

/**
 * status_id: 1 Success, 2 Failure; `info` facts record something that happened, so they count as success. A finding's
 * status_id means its triage state instead: a new one is 1 New.
 */
function status(e: StoredAuditEvent, cls: OcsfClassName): { status_id: number; status: string } {
  if (isDetection(e)) return FINDING_STATUS[String(e.details.status)] ?? { status_id: 1, status: 'New' };
  if (cls === 'finding') return { status_id: 1, status: 'New' };
  if (cls === 'incident_finding') return incidentStatus(e);
  return e.decision === 'deny' ? { status_id: 2, status: 'Failure' } : { status_id: 1, status: 'Success' };
}

/** severity_id: findings 4 High, denials 3 Medium, everything else 1 Informational. */
function severity(e: StoredAuditEvent, cls: OcsfClassName): { severity_id: number; severity: string } {
  if (isDetection(e)) return FINDING_SEVERITY[String(e.details.severity)] ?? { severity_id: 4, severity: 'High' };
  if (cls === 'finding') return { severity_id: 4, severity: 'High' };
  if (cls === 'incident_finding' && typeof e.details.severity === 'string' && INCIDENT_SEVERITY[e.details.severity])
    return INCIDENT_SEVERITY[e.details.severity]!;
  if (e.decision === 'deny') return { severity_id: 3, severity: 'Medium' };
  return { severity_id: 1, severity: 'Informational' };
}

// Incident Finding 2005: status_id 1 New, 2 In Progress, 4 Resolved, 5 Closed, 99 Other; severity from the incident.
const INCIDENT_STATUS: Record<string, [number, string]> = {
  open: [1, 'New'],
  triaged: [2, 'In Progress'],
  contained: [2, 'In Progress'],
  recovered: [4, 'Resolved'],
  closed: [5, 'Closed'],
};
const INCIDENT_SEVERITY: Record<string, { severity_id: number; severity: string }> = {
  low: { severity_id: 2, severity: 'Low' },
  medium: { severity_id: 3, severity: 'Medium' },
  high: { severity_id: 4, severity: 'High' },
  critical: { severity_id: 5, severity: 'Critical' },
};

/** An incident event's status: the state it names (opened, transitioned), else 99 Other (a note, a step). */
function incidentStatus(e: StoredAuditEvent): { status_id: number; status: string } {
  const [id, name] = INCIDENT_STATUS[String(e.details.state)] ?? [99, 'Other'];
  return { status_id: id, status: name };
}

/** A transition to closed closes the Incident Finding (activity 3); other incident events keep their rule's. */
function incidentActivity(e: StoredAuditEvent, cls: OcsfClassName, activityId: number): number {
  return cls === 'incident_finding' && e.details.to === 'closed' ? 3 : activityId;
}

function userOf(type: ActorType, id: string | null): Record<string, unknown> {
  const [typeId, typeName] = USER_TYPE[type];
  return { uid: id ?? 'unknown', type_id: typeId, type: typeName };
}

function actorOf(e: StoredAuditEvent): Record<string, unknown> {
  const actor: Record<string, unknown> = { user: userOf(e.actor.type, e.actor.id) };
  if (e.applicationId) actor.app_uid = e.applicationId;
  // The decision and the Cedar policy version that made it (DESIGN rule 9).
  actor.authorizations = [
    { decision: e.decision, ...(e.policyVersion ? { policy: { version: e.policyVersion } } : {}) },
  ];
  return actor;
}

/** Fields every class carries: classification, time, metadata (with the event id for dedupe), actor, status. */
function base(e: StoredAuditEvent, leafIndex: number, cls: OcsfClassName, activityId: number, opts: OcsfOptions) {
  const c = OCSF_CLASSES[cls];
  return {
    category_uid: c.categoryUid,
    category_name: c.category,
    class_uid: c.uid,
    class_name: c.name,
    activity_id: activityId,
    activity_name: c.activities[activityId] ?? 'Other',
    type_uid: c.uid * 100 + activityId,
    type_name: `${c.name}: ${c.activities[activityId] ?? 'Other'}`,
    time: Date.parse(e.occurredAt),
    time_dt: e.occurredAt,
    ...severity(e, cls),
    ...status(e, cls),
    ...(e.reason ? { status_detail: e.reason } : {}),
    message: `${e.type} ${e.action} ${e.decision}${e.reason ? `: ${e.reason}` : ''}`,
    metadata: {
      version: OCSF_VERSION,
      uid: e.id,
      event_code: e.type,
      log_name: 'carapace-audit',
      product: { name: 'Carapace', vendor_name: 'Carapace', version: opts.productVersion },
      ...(e.tenantId ? { tenant_uid: e.tenantId } : {}),
      ...(e.context.traceId ? { correlation_uid: e.context.traceId } : {}),
      sequence: leafIndex,
    },
    actor: actorOf(e),
    src_endpoint: e.context.sourceIp ? { ip: e.context.sourceIp } : { name: 'carapace-internal' },
  };
}

/** What no OCSF field holds: the event's details, and our own ids (seq, leaf index, raw actor type). */
function unmapped(e: StoredAuditEvent, leafIndex: number): Record<string, unknown> {
  return {
    carapace: { seq: e.seq, leaf_index: leafIndex, actor_type: e.actor.type, request_id: e.context.requestId },
    ...(Object.keys(e.details).length ? { details: e.details } : {}),
  };
}

const objectUid = (e: StoredAuditEvent) => e.object?.id ?? e.actor.id ?? 'unknown';

/** The class-specific primary fields. */
function classFields(e: StoredAuditEvent, cls: OcsfClassName): Record<string, unknown> {
  const resource = e.object ? { uid: e.object.id ?? 'unknown', type: e.object.type } : null;
  switch (cls) {
    case 'authentication':
      // The subject that signs in: the object when it names one (a user, a client), else the actor.
      return {
        user: e.object ? { uid: objectUid(e), type: e.object.type } : userOf(e.actor.type, e.actor.id),
        service: { name: 'carapace-auth' },
      };
    case 'account_change':
      return { user: { uid: objectUid(e), type_id: 1, type: 'User' } };
    case 'entity_management':
      return { entity: { uid: objectUid(e), type: e.object?.type ?? 'unknown', name: e.object?.type ?? e.type } };
    case 'incident_finding':
      // The incident is the finding: its id is the uid every update of it shares.
      return {
        finding_info_list: [{ uid: objectUid(e), title: e.reason ?? e.type, types: [e.type], desc: e.action }],
      };
    case 'finding':
      if (isDetection(e)) return detectionFields(e);
      return {
        finding_info: { uid: e.id, title: e.reason ?? e.type, types: [e.type], desc: e.action },
        ...(resource ? { resources: [resource] } : {}),
      };
    case 'api_activity':
      return {
        api: {
          operation: e.action,
          service: { name: e.type.split('.')[0] },
          ...(e.context.requestId ? { request: { uid: e.context.requestId } } : {}),
        },
        ...(resource ? { resources: [resource] } : {}),
      };
  }
}

/** Maps one sealed audit event (and its leaf index) to an OCSF 1.3 record. */
export function toOcsf(e: StoredAuditEvent, leafIndex: number, opts: OcsfOptions): OcsfRecord {
  const rule = ruleFor(e.type, [...(opts.extraRules ?? []), ...OCSF_RULES]);
  const cls = rule?.class ?? 'api_activity';
  const activityId = incidentActivity(e, cls, rule?.activityId ?? apiActivityFor(e.action));
  const out = {
    ...base(e, leafIndex, cls, activityId, opts),
    ...classFields(e, cls),
    unmapped: unmapped(e, leafIndex),
  };
  return JSON.parse(JSON.stringify(out)) as OcsfRecord;
}
