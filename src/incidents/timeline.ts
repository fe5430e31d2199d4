import type { Kysely } from 'kysely';
import type { DetailValue, RequestContext } from '../audit/index.js';
import { newId } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { IncidentAuditEvent, IncidentAuditLog } from './audit-events.js';

/** Who did a step: an operator by certificate name, or the module itself (auto-open, a playbook's own move). */
export type IncidentActor = { type: 'operator'; id: string } | { type: 'system'; id: 'incidents' };

/** The actor as the tables store it: `operator:<name>` or `system:incidents`. */
export const actorName = (a: IncidentActor): string => `${a.type}:${a.id}`;

/** The system actor: auto-open from a finding, a playbook moving its incident to contained. */
export const SYSTEM: IncidentActor = { type: 'system', id: 'incidents' };

/** One step to record: a timeline row and its audit event, in the caller's transaction. */
export interface TimelineStep {
  incidentId: string;
  tenantId: string | null;
  type: IncidentAuditEvent;
  kind: string;
  actor: IncidentActor;
  summary: string;
  decision?: 'allow' | 'deny' | 'info';
  reason?: string | null;
  details?: Record<string, DetailValue>;
  context?: RequestContext | null;
}

/** Writes one timeline row and the matching `incidents.*` audit event inside `trx`; returns the row id. */
export async function recordStep(
  trx: Kysely<Database>,
  deps: { audit: IncidentAuditLog; at: Date },
  step: TimelineStep,
): Promise<string> {
  const id = newId();
  const details = { ...(step.details ?? {}), timelineId: id };
  const last = await trx
    .selectFrom('incident_timeline')
    .select((eb) => eb.fn.max('position').as('n'))
    .where('incident_id', '=', step.incidentId)
    .executeTakeFirst();
  await trx
    .insertInto('incident_timeline')
    .values({
      id,
      incident_id: step.incidentId,
      position: Number(last?.n ?? 0) + 1,
      at: deps.at.toISOString(),
      kind: step.kind,
      actor: actorName(step.actor),
      summary: step.summary.slice(0, 500),
      details: JSON.stringify(details),
    })
    .execute();
  await deps.audit.append(trx, {
    type: step.type,
    actor: step.actor,
    tenantId: step.tenantId,
    object: { type: 'incident', id: step.incidentId },
    action: `incidents:${step.kind}`,
    decision: step.decision ?? 'info',
    reason: step.reason ?? null,
    context: step.context ?? null,
    details,
  });
  return id;
}
