import type { Kysely } from 'kysely';
import type { RequestContext } from '../audit/index.js';
import type { Clock } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { IdentityAuditLog } from './audit-events.js';
import type { FederatedIdentityRow } from './tables.js';

/** The Carapace user an external account (issuer, subject) is linked to, or undefined when it is not linked. */
export async function findFederatedUser(
  db: Kysely<Database>,
  issuer: string,
  subject: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('federated_identities')
    .select(['user_id'])
    .where('issuer', '=', issuer)
    .where('subject', '=', subject)
    .executeTakeFirst();
  return row?.user_id;
}

/** The external accounts linked to a user. */
export async function federatedIdentitiesOf(db: Kysely<Database>, userId: string): Promise<FederatedIdentityRow[]> {
  return db.selectFrom('federated_identities').selectAll().where('user_id', '=', userId).execute();
}

/**
 * Links an external account to a user, with its audit event in the same transaction. An account already linked
 * keeps its user: a second link for the same (issuer, subject) is refused (false), never moved silently.
 */
export async function linkFederatedIdentity(
  deps: { db: Kysely<Database>; audit: IdentityAuditLog; clock: Clock },
  link: {
    issuer: string;
    subject: string;
    userId: string;
    via: FederatedIdentityRow['linked_via'];
    actor: { type: 'operator' | 'system'; id: string | null };
    context?: RequestContext | null;
  },
): Promise<boolean> {
  return deps.db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('federated_identities')
      .values({
        issuer: link.issuer,
        subject: link.subject,
        user_id: link.userId,
        linked_via: link.via,
        linked_at: deps.clock.now().toISOString(),
      })
      .onConflict((oc) => oc.columns(['issuer', 'subject']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== 1) return false;
    await deps.audit.append(trx, {
      type: 'identity.federation.linked',
      actor: link.actor,
      object: { type: 'user', id: link.userId },
      action: 'identity:federation:link',
      decision: 'allow',
      reason: link.via,
      context: link.context ?? null,
      details: { issuer: link.issuer.slice(0, 200), subject: link.subject.slice(0, 200) },
    });
    return true;
  });
}
