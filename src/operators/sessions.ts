import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { CarapaceError, type Clock, newId } from '../platform/index.js';
import type { OperatorAuditLog } from './audit-events.js';
import { newSessionId, secretHash } from './store.js';
import type { OperatorSessionRow } from './tables.js';

/** How long sessions, elevations and approvals last (seconds), from the `operators` configuration. */
export interface OperatorTimings {
  sessionTtl: number;
  sessionIdleTimeout: number;
  elevationMaxDuration: number;
  approvalTtl: number;
}

/** Why a session cookie was not accepted (audited as the refusal reason). */
export type SessionRefusal = 'unknown_session' | 'session_ended' | 'session_expired' | 'session_idle';

type Actor = { type: 'operator'; id: string };
type Ctx = { requestId: string | null; traceId: string | null; sourceIp: string | null };

/** Console sessions (server-side, hashed ids, absolute and idle expiry), elevations and approvals. */
export function createOperatorSessions(deps: {
  db: Kysely<Database>;
  audit: OperatorAuditLog;
  clock: Clock;
  timings: OperatorTimings;
}) {
  const { db, audit, clock, timings } = deps;
  const at = (offsetSeconds = 0) => new Date(clock.now().getTime() + offsetSeconds * 1000).toISOString();
  const endSession = async (hash: string, reason: string, actor: Actor, context?: Ctx) => {
    await db.transaction().execute(async (trx) => {
      const ended = await trx
        .updateTable('operator_sessions')
        .set({ ended_at: at(), end_reason: reason })
        .where('id_hash', '=', hash)
        .where('ended_at', 'is', null)
        .executeTakeFirst();
      // Signing out ends the elevation with the session.
      await trx
        .updateTable('operator_elevations')
        .set({ ended_at: at() })
        .where('session_hash', '=', hash)
        .where('ended_at', 'is', null)
        .execute();
      if (Number(ended.numUpdatedRows) > 0)
        await audit.append(trx, {
          type: 'operators.session.ended',
          actor,
          object: { type: 'operator_session', id: hash.slice(0, 16) },
          action: 'end',
          decision: 'info',
          reason,
          ...(context ? { context } : {}),
        });
    });
  };
  return {
    /** Starts a session for a signed-in person; the raw id goes into the cookie only. */
    async start(operatorId: string, credentialEpoch: number): Promise<{ id: string; expiresAt: string }> {
      const id = newSessionId();
      const row: OperatorSessionRow = {
        id_hash: secretHash(id),
        operator_id: operatorId,
        credential_epoch: credentialEpoch,
        created_at: at(),
        last_seen_at: at(),
        expires_at: at(timings.sessionTtl),
        ended_at: null,
        end_reason: null,
      };
      await db.insertInto('operator_sessions').values(row).execute();
      return { id, expiresAt: row.expires_at };
    },
    /** The live session of a cookie value, touched (idle timeout), or why it is refused. */
    async resolve(id: string): Promise<OperatorSessionRow | SessionRefusal> {
      const hash = secretHash(id);
      const row = await db.selectFrom('operator_sessions').selectAll().where('id_hash', '=', hash).executeTakeFirst();
      if (!row) return 'unknown_session';
      if (row.ended_at) return 'session_ended';
      const now = clock.now().getTime();
      if (now >= Date.parse(row.expires_at)) return 'session_expired';
      if (now >= Date.parse(row.last_seen_at) + timings.sessionIdleTimeout * 1000) return 'session_idle';
      await db.updateTable('operator_sessions').set({ last_seen_at: at() }).where('id_hash', '=', hash).execute();
      return row;
    },
    end: endSession,
    /** Starts a time-boxed elevation of a session, with its reason; audited. */
    async elevate(args: {
      sessionHash: string;
      operatorId: string;
      actor: Actor;
      reason: string;
      minutes: number;
      context: Ctx;
    }) {
      const seconds = args.minutes * 60;
      if (!Number.isInteger(args.minutes) || args.minutes < 1 || seconds > timings.elevationMaxDuration)
        throw new CarapaceError(
          'ERR_VALIDATION',
          `an elevation lasts 1 to ${Math.floor(timings.elevationMaxDuration / 60)} minutes`,
          { field: 'minutes' },
        );
      const row = {
        id: newId(),
        operator_id: args.operatorId,
        session_hash: args.sessionHash,
        reason: args.reason,
        started_at: at(),
        until: at(seconds),
        ended_at: null,
      };
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('operator_elevations').values(row).execute();
        await audit.append(trx, {
          type: 'operators.elevation.started',
          actor: args.actor,
          object: { type: 'operator_elevation', id: row.id },
          action: 'elevate',
          decision: 'allow',
          reason: args.reason,
          context: args.context,
          details: { until: row.until, minutes: args.minutes },
        });
      });
      return { until: row.until, reason: row.reason };
    },
    /** The session's active elevation, if any. */
    async elevation(sessionHash: string): Promise<{ until: string; reason: string } | null> {
      const row = await db
        .selectFrom('operator_elevations')
        .select(['until', 'reason'])
        .where('session_hash', '=', sessionHash)
        .where('ended_at', 'is', null)
        .where('until', '>', at())
        .orderBy('until', 'desc')
        .executeTakeFirst();
      return row ?? null;
    },
  };
}

/** The session and elevation store. */
export type OperatorSessions = ReturnType<typeof createOperatorSessions>;
