import type { Kysely } from 'kysely';
import type { Cluster } from '../cluster/index.js';
import type { Clock } from '../platform/index.js';
import type { Database } from '../storage/index.js';

/** The outcome of reserving an Idempotency-Key. */
export type Reservation = { mine: true } | { mine: false; resultId: string; requestHash: string };

/**
 * Idempotency-Key reservations, per principal, for `ttlSeconds`. The first request to reserve a key wins;
 * every other sees the winner's result id and request hash. In cluster mode the cluster adapter answers first
 * (SET NX in Redis); the database row, inserted with ON CONFLICT DO NOTHING, is the record on every engine, so
 * the guarantee holds under concurrency with or without Redis. When Redis cannot answer, the reservation fails
 * closed (ERR_CLUSTER_UNAVAILABLE): no job is created.
 */
export function createIdempotency(deps: {
  db: Kysely<Database>;
  clock: Clock;
  ttlSeconds: number;
  /** How old a reservation without its result may be before a retry takes it over (a crash between commits). */
  reclaimAfterSeconds: number;
  cluster: Cluster;
}) {
  // In the embedded mode the database row alone is the reservation: one process, and it follows the injected clock.
  const shared = deps.cluster.kind === 'redis' ? deps.cluster : null;
  const rkey = (principal: string, keyHash: string) => `cmdidem:${principal}:${keyHash}`;

  async function reserveInDb(
    principal: string,
    keyHash: string,
    requestHash: string,
    resultId: string,
  ): Promise<Reservation> {
    const now = deps.clock.now();
    const expires = new Date(now.getTime() + deps.ttlSeconds * 1000).toISOString();
    // One transaction (one commit): a key past its 24 hours is freed, then reserved, then read back.
    const row = await deps.db.transaction().execute(async (trx) => {
      await trx
        .deleteFrom('command_idempotency')
        .where('principal', '=', principal)
        .where('key_hash', '=', keyHash)
        .where('expires_at', '<=', now.toISOString())
        .execute();
      await trx
        .insertInto('command_idempotency')
        .values({
          principal,
          key_hash: keyHash,
          request_hash: requestHash,
          result_id: resultId,
          created_at: now.toISOString(),
          expires_at: expires,
        })
        .onConflict((oc) => oc.columns(['principal', 'key_hash']).doNothing())
        .execute();
      return trx
        .selectFrom('command_idempotency')
        .select(['request_hash', 'result_id'])
        .where('principal', '=', principal)
        .where('key_hash', '=', keyHash)
        .executeTakeFirstOrThrow();
    });
    return row.result_id === resultId
      ? { mine: true }
      : { mine: false, resultId: row.result_id, requestHash: row.request_hash };
  }

  return {
    /** Reserves `keyHash` for `resultId`, or reports who holds it. */
    async reserve(principal: string, keyHash: string, requestHash: string, resultId: string): Promise<Reservation> {
      if (shared) {
        const held = await shared.reserve(rkey(principal, keyHash), `${requestHash}|${resultId}`, deps.ttlSeconds);
        if (!held.reserved && held.holder) {
          const [h, id] = held.holder.split('|') as [string, string];
          return { mine: false, resultId: id, requestHash: h };
        }
      }
      return reserveInDb(principal, keyHash, requestHash, resultId);
    },
    /**
     * Takes over `staleId`'s reservation for `resultId` when it is older than `reclaimAfterSeconds` and its result
     * does not exist (the caller looked): its process died between committing the reservation and the result, and
     * without this the client's retries would get 409 for 24 hours. Otherwise reports the current holder.
     */
    async reclaim(
      principal: string,
      keyHash: string,
      requestHash: string,
      staleId: string,
      resultId: string,
    ): Promise<Reservation> {
      const now = deps.clock.now();
      const cutoff = new Date(now.getTime() - deps.reclaimAfterSeconds * 1000).toISOString();
      // `created_at` is also what `confirm` bumps in the result's own transaction: a live holder that commits
      // first makes this update match nothing (PostgreSQL re-checks the condition on the row it waited for).
      const taken = await deps.db
        .updateTable('command_idempotency')
        .set({ result_id: resultId, request_hash: requestHash, created_at: now.toISOString() })
        .where('principal', '=', principal)
        .where('key_hash', '=', keyHash)
        .where('result_id', '=', staleId)
        .where('created_at', '<=', cutoff)
        .executeTakeFirst();
      if (Number(taken.numUpdatedRows) === 1) {
        await shared?.release(rkey(principal, keyHash), `${requestHash}|${staleId}`);
        await shared?.reserve(rkey(principal, keyHash), `${requestHash}|${resultId}`, deps.ttlSeconds);
        return { mine: true };
      }
      const row = await deps.db
        .selectFrom('command_idempotency')
        .select(['request_hash', 'result_id'])
        .where('principal', '=', principal)
        .where('key_hash', '=', keyHash)
        .executeTakeFirst();
      // Gone meanwhile (released after a refusal, or expired): reserve it afresh.
      if (!row) return reserveInDb(principal, keyHash, requestHash, resultId);
      return row.result_id === resultId
        ? { mine: true }
        : { mine: false, resultId: row.result_id, requestHash: row.request_hash };
    },
    /**
     * Inside the transaction that creates the result: true while `resultId` still holds the key (then the row is
     * touched, so a concurrent `reclaim` cannot take it); false when a retry reclaimed it, and the caller aborts.
     */
    async confirm(trx: Kysely<Database>, principal: string, keyHash: string, resultId: string): Promise<boolean> {
      const held = await trx
        .updateTable('command_idempotency')
        .set({ created_at: deps.clock.now().toISOString() })
        .where('principal', '=', principal)
        .where('key_hash', '=', keyHash)
        .where('result_id', '=', resultId)
        .executeTakeFirst();
      return Number(held.numUpdatedRows) === 1;
    },
    /** Frees a reservation whose request failed before it produced anything (a 429, a 400). */
    async release(principal: string, keyHash: string, resultId: string): Promise<void> {
      const row = await deps.db
        .selectFrom('command_idempotency')
        .select(['request_hash'])
        .where('principal', '=', principal)
        .where('key_hash', '=', keyHash)
        .where('result_id', '=', resultId)
        .executeTakeFirst();
      await deps.db
        .deleteFrom('command_idempotency')
        .where('principal', '=', principal)
        .where('key_hash', '=', keyHash)
        .where('result_id', '=', resultId)
        .execute();
      // Only the holder's own value is deleted: a newer reservation of the same key by another request survives.
      if (row) await shared?.release(rkey(principal, keyHash), `${row.request_hash}|${resultId}`);
    },
    // The adapter belongs to the platform, which closes it.
    async close() {},
  };
}

/** The idempotency store. */
export type Idempotency = ReturnType<typeof createIdempotency>;
