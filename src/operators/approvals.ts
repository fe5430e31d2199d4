import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { CarapaceError, type Clock, newId } from '../platform/index.js';
import type { OperatorAuditLog } from './audit-events.js';
import type { OperatorApprovalRow } from './tables.js';

type Actor = { type: 'operator'; id: string };
type Ctx = { requestId: string | null; traceId: string | null; sourceIp: string | null };

/** An approval as the admin plane serves it. */
export interface ApprovalView {
  id: string;
  action: string;
  reason: string;
  requestedBy: string;
  requestedAt: string;
  approvedBy: string | null;
  approvedAt: string | null;
  expiresAt: string;
  usedAt: string | null;
}

const view = (r: OperatorApprovalRow): ApprovalView => ({
  id: r.id,
  action: r.action,
  reason: r.reason,
  requestedBy: r.requested_by,
  requestedAt: r.requested_at,
  approvedBy: r.approved_by,
  approvedAt: r.approved_at,
  expiresAt: r.expires_at,
  usedAt: r.used_at,
});

/**
 * The two-person rule: an operator asks for a fleet-wide action, a second, different operator approves it before
 * it expires, and the requester's next request of that action (naming the approval) consumes it, once.
 */
export function createApprovals(deps: {
  db: Kysely<Database>;
  audit: OperatorAuditLog;
  clock: Clock;
  ttlSeconds: number;
  /** The actions that need a second operator's approval (the policy's `admin:fleet_wide` group). */
  fleetWide: () => ReadonlySet<string>;
}) {
  const { db, audit, clock } = deps;
  const at = (offset = 0) => new Date(clock.now().getTime() + offset * 1000).toISOString();
  const refuse = async (actor: Actor, id: string, reason: string, context: Ctx) => {
    await audit.append(db, {
      type: 'operators.approval.refused',
      actor,
      object: { type: 'operator_approval', id },
      action: 'approve',
      decision: 'deny',
      reason,
      context,
    });
  };
  return {
    /** Asks for a fleet-wide action; audited. */
    async request(actor: Actor, args: { action: string; reason: string }, context: Ctx): Promise<ApprovalView> {
      if (!deps.fleetWide().has(args.action))
        throw new CarapaceError('ERR_VALIDATION', 'only fleet-wide actions take an approval', { field: 'action' });
      const row: OperatorApprovalRow = {
        id: newId(),
        action: args.action,
        reason: args.reason,
        requested_by: actor.id,
        requested_at: at(),
        approved_by: null,
        approved_at: null,
        expires_at: at(deps.ttlSeconds),
        used_at: null,
      };
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('operator_approvals').values(row).execute();
        await audit.append(trx, {
          type: 'operators.approval.requested',
          actor,
          object: { type: 'operator_approval', id: row.id },
          action: 'request',
          decision: 'info',
          reason: args.reason,
          context,
          details: { approvalAction: row.action, expiresAt: row.expires_at },
        });
      });
      return view(row);
    },
    /**
     * A second operator approves; the requester, a second approval, an expired request and an approver who may not
     * take the action themselves (`mayTake`, judged as if approved, with the approver's own elevation) are refused.
     */
    async approve(
      actor: Actor,
      id: string,
      context: Ctx,
      mayTake: (action: string) => Promise<'ERR_ELEVATION_REQUIRED' | 'ERR_FORBIDDEN' | null>,
    ): Promise<ApprovalView> {
      const row = await db.selectFrom('operator_approvals').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) throw new CarapaceError('ERR_NOT_FOUND', 'no such approval request');
      const problem =
        row.requested_by === actor.id
          ? 'requester_cannot_approve'
          : row.approved_by !== null
            ? 'already_approved'
            : at() >= row.expires_at
              ? 'approval_expired'
              : null;
      const lacking = problem ? null : await mayTake(row.action);
      if (lacking) {
        await refuse(actor, id, 'approver_not_allowed', context);
        throw new CarapaceError(
          lacking,
          lacking === 'ERR_ELEVATION_REQUIRED'
            ? 'approving this action needs your own just-in-time elevation: POST /admin/v1/elevations'
            : 'the second operator must be one whose role may take this action',
        );
      }
      if (problem) {
        await refuse(actor, id, problem, context);
        const detail = {
          requester_cannot_approve: 'the operator who asked cannot approve: a second, different operator must',
          already_approved: 'this request is already approved',
          approval_expired: 'this request has expired: ask again',
        }[problem];
        throw new CarapaceError(problem === 'requester_cannot_approve' ? 'ERR_FORBIDDEN' : 'ERR_CONFLICT', detail);
      }
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('operator_approvals')
          .set({ approved_by: actor.id, approved_at: at() })
          .where('id', '=', id)
          .where('approved_by', 'is', null)
          .execute();
        await audit.append(trx, {
          type: 'operators.approval.granted',
          actor,
          object: { type: 'operator_approval', id },
          action: 'approve',
          decision: 'allow',
          context,
          details: { approvalAction: row.action, requestedBy: row.requested_by },
        });
      });
      return view({ ...row, approved_by: actor.id, approved_at: at() });
    },
    /** Consumes an approved, unexpired, unused approval of `action` asked by `requester`; false when none. */
    async consume(id: string, action: string, requester: string): Promise<boolean> {
      const done = await db
        .updateTable('operator_approvals')
        .set({ used_at: at() })
        .where('id', '=', id)
        .where('action', '=', action)
        .where('requested_by', '=', requester)
        .where('approved_by', 'is not', null)
        .where('used_at', 'is', null)
        .where('expires_at', '>', at())
        .executeTakeFirst();
      return Number(done.numUpdatedRows) === 1;
    },
    /** Approval requests not yet used, newest first. */
    async open(): Promise<ApprovalView[]> {
      const rows = await db
        .selectFrom('operator_approvals')
        .selectAll()
        .where('used_at', 'is', null)
        .where('expires_at', '>', at())
        .orderBy('requested_at', 'desc')
        .limit(200)
        .execute();
      return rows.map(view);
    },
  };
}

/** The approval store. */
export type Approvals = ReturnType<typeof createApprovals>;
