import type { Kysely } from 'kysely';
import type { Clock } from '../platform/index.js';
import { findDevice } from '../pki/index.js';
import { cedarRequest, type Decision, type DecisionPoint, type EntityLoader, ref } from '../policy/index.js';
import { findLiveApproval } from '../relationships/index.js';
import type { Database } from '../storage/index.js';
import type { CommandAuditLog } from './audit-events.js';
import type { CommandJob } from './job-store.js';

/** Why a delivery (first or repeated) was refused. */
export type DeliveryRefusal = 'device_replaced' | 'device_not_active' | 'authorization_ended_before_dispatch';

/**
 * The check every delivery of an envelope passes, the first one and every re-send after a reconnect: the
 * channel is the device the job is addressed to, that device is active, and Cedar (through the one request
 * builder) still allows the requester to send this command to this vehicle now. A refusal is audited as
 * `commands.delivery.refused` with the requester, tenant, job, action and reason.
 */
export function createDeliveryAuthorization(deps: {
  db: Kysely<Database>;
  audit: CommandAuditLog;
  clock: Clock;
  decisions: DecisionPoint;
  load: EntityLoader;
  isQuarantined: (deviceId: string) => Promise<boolean>;
  operatorTenant: () => Promise<string>;
}) {
  const { db, clock } = deps;

  /** Asks Cedar again, as of now, whether the requester may still send this command to this vehicle. */
  async function decideAgain(job: CommandJob): Promise<Decision | null> {
    const record = JSON.parse(job.decision_record) as {
      scope: { via: string };
      user: { acr: string | null };
      relationship: Array<{ kind: string; id: string }>;
    };
    const principal = { kind: 'user' as const, userId: job.requester_id, clientId: job.client_id };
    const [p, v, own] = await Promise.all([
      deps.load.principal(principal),
      deps.load.vehicle(job.vehicle_id),
      deps.load.callerContext(principal, job.vehicle_id, job.command),
    ]);
    if (!p || v.object === null) return null;
    // A just-in-time approval is consumed by the job it allowed: it still counts for that job until it expires.
    const approvalId = record.relationship.find((r) => r.kind === 'jit_approval')?.id;
    if (approvalId) {
      const a = await findLiveApproval(db, approvalId, clock.now().toISOString());
      if (a) {
        own.entities.push({
          uid: { type: 'JitApproval', id: a.id },
          attrs: {
            supportCase: ref('SupportCase', a.support_case_id),
            agent: ref('User', a.agent_id),
            vehicle: ref('Vehicle', a.vehicle_id),
            command: a.command,
          },
        });
        own.context.jitApproval = ref('JitApproval', a.id);
      }
    }
    const params = JSON.parse(job.params) as Record<string, unknown>;
    const extra = {
      operator: ref('Tenant', await deps.operatorTenant()),
      ...(typeof params.reason === 'string' ? { reason: params.reason } : {}),
    };
    // The same request the route asked, with the scope the job was authorized through.
    const token = { clientId: job.client_id, scopes: [record.scope.via], acr: record.user.acr };
    return deps.decisions.decide(
      cedarRequest({
        principal: p,
        action: 'vehicle:command',
        resource: v,
        token,
        caller: own,
        command: job.command,
        extra,
      }),
    );
  }

  /**
   * Whether `job` may go out (again) on the channel of `deviceId`; null if it may, else the reason, already
   * audited. `delivery` says whether this is the first send or a re-send of the stored envelope.
   */
  return async function refusalOf(
    job: CommandJob,
    deviceId: string,
    delivery: 'first' | 'repeat',
  ): Promise<DeliveryRefusal | null> {
    let reason: DeliveryRefusal | null = null;
    let decision: Decision | null = null;
    if (job.device_id !== deviceId) reason = 'device_replaced';
    else {
      const device = await findDevice(db, deviceId);
      if (device?.status !== 'active' || (await deps.isQuarantined(deviceId))) reason = 'device_not_active';
      else {
        decision = await decideAgain(job);
        if (decision?.decision !== 'allow') reason = 'authorization_ended_before_dispatch';
      }
    }
    if (reason === null) return null;
    await deps.audit.append(db, {
      type: 'commands.delivery.refused',
      actor: { type: 'user', id: job.requester_id },
      applicationId: job.client_id,
      tenantId: job.tenant_id,
      object: { type: 'command_job', id: job.id },
      action: 'vehicle:command',
      decision: 'deny',
      reason,
      policyVersion: decision?.policyVersion ?? job.policy_version,
      details: {
        command: job.command,
        vehicleId: job.vehicle_id,
        deviceId,
        delivery,
        ...(decision && decision.reasons.length > 0 ? { forbiddenBy: decision.reasons.slice(0, 5) } : {}),
      },
    });
    return reason;
  };
}

/** The delivery check. */
export type DeliveryAuthorization = ReturnType<typeof createDeliveryAuthorization>;
