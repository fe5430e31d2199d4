import type { StoredAuditEvent } from '../audit/index.js';

/** One vehicle the investigated activity reached, with the events that show it. */
export interface AffectedVehicle {
  vehicleId: string;
  /** `acted`: at least one event allowed or recorded something on it; `denied`: every attempt was refused. */
  outcome: 'acted' | 'denied';
  allowed: number;
  denied: number;
  /** Ids of the events naming the vehicle (or one of its jobs), oldest first. */
  evidence: string[];
}

/** One HTTP request (or device connection) seen in the events. */
export interface RequestNode {
  requestId: string;
  traceId: string | null;
  sourceIp: string | null;
  firstAt: string;
  events: number;
  denied: number;
}

/** One policy decision: what was asked of which object, the answer, and the policy version that gave it. */
export interface DecisionNode {
  eventId: string;
  at: string;
  action: string;
  object: { type: string; id: string | null } | null;
  decision: string;
  reason: string | null;
  policyVersion: string | null;
}

/** The identities and links the events name, each list sorted. */
export interface GraphNodes {
  users: string[];
  clients: string[];
  tokens: string[];
  devices: string[];
  certificates: { serials: string[]; thumbprints: string[] };
  sourceAddresses: string[];
  traces: string[];
  /** The backend service instances that command decision records name (`chain_backend`). */
  backendServices: string[];
  policyVersions: string[];
  jobIds: string[];
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
const isVehicleType = (t: string | undefined) => t?.toLowerCase() === 'vehicle';
const isJobType = (t: string | undefined) => t?.toLowerCase().replaceAll('_', '') === 'commandjob';

/** The job an event is about, if any. */
export function jobOf(e: StoredAuditEvent): string | null {
  return isJobType(e.object?.type) ? (e.object?.id ?? null) : str(e.details.jobId);
}

/** The vehicle an event names directly: its object, or `vehicleId` in its details. */
export function vehicleOf(e: StoredAuditEvent): string | null {
  return isVehicleType(e.object?.type) ? (e.object?.id ?? null) : str(e.details.vehicleId);
}

/** The affected vehicles: each vehicle named by an event, or owning a job an event is about. */
export function affectedVehicles(events: StoredAuditEvent[], jobVehicles: Map<string, string>): AffectedVehicle[] {
  const byVehicle = new Map<string, AffectedVehicle>();
  for (const e of events) {
    const job = jobOf(e);
    const vehicleId = vehicleOf(e) ?? (job ? (jobVehicles.get(job) ?? null) : null);
    if (!vehicleId) continue;
    const v = byVehicle.get(vehicleId) ?? { vehicleId, outcome: 'denied', allowed: 0, denied: 0, evidence: [] };
    if (e.decision === 'deny') v.denied++;
    else v.allowed++;
    v.outcome = v.allowed > 0 ? 'acted' : 'denied';
    v.evidence.push(e.id);
    byVehicle.set(vehicleId, v);
  }
  return [...byVehicle.values()].sort((a, b) => a.vehicleId.localeCompare(b.vehicleId));
}

/** The requests the events belong to, oldest first. */
export function requestsOf(events: StoredAuditEvent[]): RequestNode[] {
  const out = new Map<string, RequestNode>();
  for (const e of events) {
    const id = e.context.requestId;
    if (!id) continue;
    const r = out.get(id) ?? {
      requestId: id,
      traceId: e.context.traceId,
      sourceIp: e.context.sourceIp,
      firstAt: e.occurredAt,
      events: 0,
      denied: 0,
    };
    r.events++;
    if (e.decision === 'deny') r.denied++;
    out.set(id, r);
  }
  return [...out.values()].sort((a, b) => a.firstAt.localeCompare(b.firstAt));
}

/** The policy decisions among the events (`authz.decision`, and command decisions with their policy version). */
export function decisionsOf(events: StoredAuditEvent[]): DecisionNode[] {
  return events
    .filter((e) => e.type === 'authz.decision' || e.type === 'commands.job.requested')
    .map((e) => ({
      eventId: e.id,
      at: e.occurredAt,
      action: e.action,
      object: e.object,
      decision: e.decision,
      reason: e.reason,
      policyVersion: e.policyVersion,
    }));
}

/** Every identity and link the events name. */
export function nodesOf(events: StoredAuditEvent[]): GraphNodes {
  const sets = {
    users: new Set<string>(),
    clients: new Set<string>(),
    tokens: new Set<string>(),
    devices: new Set<string>(),
    serials: new Set<string>(),
    thumbprints: new Set<string>(),
    sourceAddresses: new Set<string>(),
    traces: new Set<string>(),
    backendServices: new Set<string>(),
    policyVersions: new Set<string>(),
    jobIds: new Set<string>(),
  };
  const add = (set: Set<string>, v: unknown) => {
    const s = str(v);
    if (s) set.add(s);
  };
  for (const e of events) {
    if (e.actor.type === 'user') add(sets.users, e.actor.id);
    if (e.actor.type === 'device') add(sets.devices, e.actor.id);
    if (e.object?.type === 'device') add(sets.devices, e.object.id);
    add(sets.users, e.details.chain_user);
    add(sets.clients, e.applicationId);
    add(sets.tokens, e.details.jti);
    add(sets.devices, e.details.deviceId);
    add(sets.serials, e.details.serial);
    add(sets.thumbprints, e.details.thumbprint);
    add(sets.sourceAddresses, e.context.sourceIp);
    add(sets.traces, e.context.traceId);
    add(sets.backendServices, e.details.chain_backend);
    add(sets.policyVersions, e.policyVersion);
    add(sets.jobIds, jobOf(e));
  }
  const sorted = (s: Set<string>) => [...s].sort();
  return {
    users: sorted(sets.users),
    clients: sorted(sets.clients),
    tokens: sorted(sets.tokens),
    devices: sorted(sets.devices),
    certificates: { serials: sorted(sets.serials), thumbprints: sorted(sets.thumbprints) },
    sourceAddresses: sorted(sets.sourceAddresses),
    traces: sorted(sets.traces),
    backendServices: sorted(sets.backendServices),
    policyVersions: sorted(sets.policyVersions),
    jobIds: sorted(sets.jobIds),
  };
}
