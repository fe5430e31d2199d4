/** Who acted. Identities are never collapsed: a device is not a user, a workload is not an application. */
export type ActorType = 'device' | 'operator' | 'user' | 'application' | 'workload' | 'system' | 'anonymous';

/** Outcome recorded for a security decision; `info` marks lifecycle facts that were not a decision. */
export type Decision = 'allow' | 'deny' | 'info';

/** Where a decision happened: request and trace ids for correlation, the peer address. */
export interface RequestContext {
  requestId: string | null;
  traceId: string | null;
  sourceIp: string | null;
  /** W3C `traceparent` of the span the work runs in, for the spans it starts; never stored in the trail. */
  traceparent?: string | null;
}

/** A detail value: plain data only, so nothing structured (a key object, a buffer) slips in. */
export type DetailValue = string | number | boolean | null | string[];

/**
 * One audit event as written by a module (DESIGN rule 9). `T` is the union of event types the writer may use:
 * each module declares its own in its `audit-events.ts` and holds an `AuditLog<ItsEvents>`, and the composition
 * root builds the log for the union of all of them (src/server/audit-events.ts). The audit module itself
 * imports no other module: it only takes the union as a parameter.
 */
export interface AuditEvent<T extends string = string> {
  /** Dotted name owned by a module, e.g. `pki.device.enrolled` or `gateway.request.refused`. */
  type: T;
  actor: { type: ActorType; id?: string | null };
  applicationId?: string | null;
  tenantId?: string | null;
  object?: { type: string; id: string | null } | null;
  action: string;
  decision: Decision;
  reason?: string | null;
  policyVersion?: string | null;
  context?: RequestContext | null;
  details?: Record<string, DetailValue>;
}

/** A stored audit event, as returned by queries: its type is whatever was stored, so a plain string. */
export interface StoredAuditEvent extends Required<Omit<AuditEvent, 'details' | 'context' | 'object' | 'actor'>> {
  seq: number;
  actor: { type: ActorType; id: string | null };
  id: string;
  occurredAt: string;
  object: { type: string; id: string | null } | null;
  context: RequestContext;
  details: Record<string, DetailValue>;
}
