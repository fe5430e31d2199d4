import type { Kysely } from 'kysely';
import { tailAuditEvents } from '../audit/index.js';
import type { Auth } from '../auth/index.js';
import type { Cluster } from '../cluster/index.js';
import type { Config } from '../config/index.js';
import type { SecretBox } from '../identity/index.js';
import type { Outbound } from '../outbound/index.js';
import type { Clock, Logger } from '../platform/index.js';
import type { DecisionPoint, EntityLoader } from '../policy/index.js';
import { relationshipsInForce } from '../relationships/index.js';
import type { Database } from '../storage/index.js';
import { createWebhooks, type WebhookAuditLog, type Webhooks } from '../webhooks/index.js';

/**
 * The webhooks module over the platform's parts: the sealed trail, the partner grants behind consent events (read
 * through the relationships module), the Cedar decision point and the auth module's suspended clients.
 */
export function wireWebhooks(
  config: Config,
  parts: {
    db: Kysely<Database>;
    audit: WebhookAuditLog;
    clock: Clock;
    log: Logger;
    secrets: SecretBox;
    outbound: Outbound;
    cluster: Cluster;
    decisions: DecisionPoint;
    load: EntityLoader;
    auth: Pick<Auth, 'denylist'>;
  },
): Webhooks {
  const { db } = parts;
  return createWebhooks(config, {
    ...parts,
    tail: (afterLeaf, limit) => tailAuditEvents(db, afterLeaf, limit),
    isSuspended: (clientId) => parts.auth.denylist.isSuspended(clientId),
    consent: {
      async grant(relationshipId, at) {
        const [row] = await relationshipsInForce(db, at, { id: relationshipId, kind: 'partner_grant' });
        if (!row?.vehicle_id || !row.application_id) return null;
        const scopes = (JSON.parse(row.attributes) as { scopes?: unknown }).scopes;
        const list = Array.isArray(scopes) ? scopes.filter((s): s is string => typeof s === 'string') : [];
        return { vehicleId: row.vehicle_id, applicationId: row.application_id, scopes: list };
      },
    },
  });
}
