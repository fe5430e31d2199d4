import type { Kysely } from 'kysely';
import { findApplication, membershipsOf } from '../identity/index.js';
import type { Database } from '../storage/index.js';

/**
 * The tenant an authentication event belongs to (issue 12 item 1): the user's, when a user is known (their first
 * active membership, the order the policy's home tenant uses), else the application's registration tenant. Devices
 * and workloads have none here.
 */
export async function eventTenant(
  db: Kysely<Database>,
  who: { userId?: string | null; clientId?: string | null },
): Promise<string | null> {
  if (who.userId) {
    const first = (await membershipsOf(db, who.userId))[0];
    if (first) return first.tenantId;
  }
  return who.clientId ? ((await findApplication(db, who.clientId))?.tenant_id ?? null) : null;
}
