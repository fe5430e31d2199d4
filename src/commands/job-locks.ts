import type { Kysely } from 'kysely';
import { dialectOf } from '../storage/index.js';
import type { Database } from '../storage/index.js';

/** The lock that serializes job creation on one vehicle (conflict groups, the sequence of in-flight jobs). */
export const vehicleLock = (vehicleId: string): string => `vehicle:${vehicleId}`;
/** The lock that serializes job creation in one tenant (its concurrency cap). */
export const tenantLock = (tenantId: string): string => `tenant:${tenantId}`;

/**
 * Takes the row locks of `keys` inside the caller's transaction, so the checks that count in-flight jobs (conflict
 * groups, the tenant's concurrency cap) and the insert they guard happen as one step: without them, PostgreSQL's
 * read committed lets six concurrent transactions each count zero and each queue a job. The rows are created on
 * first use and locked one by one in sorted order, so two transactions never wait on each other in a cycle. On
 * SQLite a write transaction already holds the one connection until it ends, which serializes the same steps.
 */
export async function lockJobScopes(trx: Kysely<Database>, keys: readonly string[]): Promise<void> {
  const sorted = [...new Set(keys)].sort();
  if (sorted.length === 0 || dialectOf(trx) !== 'postgres') return;
  await trx
    .insertInto('command_locks')
    .values(sorted.map((key) => ({ key })))
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  for (const key of sorted)
    await trx.selectFrom('command_locks').select(['key']).where('key', '=', key).forUpdate().execute();
}
