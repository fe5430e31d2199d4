/** What the webhooks module needs from the rest of the platform, narrowed. */
import type { Kysely } from 'kysely';
import type { SecretBox } from '../identity/index.js';
import type { DecisionPoint, EntityLoader } from '../policy/index.js';
import type { Clock, Logger } from '../platform/index.js';
import type { Cluster } from '../cluster/index.js';
import type { AuditTailPage } from '../audit/index.js';
import type { Database } from '../storage/index.js';
import type { Outbound } from '../outbound/index.js';
import type { WebhookAuditLog } from './audit-events.js';
import type { ConsentFacts } from './event-types.js';

/** The SSRF-safe outbound layer: every request of this module goes through it. */
export type OutboundPort = Pick<Outbound, 'send' | 'checkUrl' | 'breakers'>;

/** Everything the module is built from. */
export interface WebhookDeps {
  db: Kysely<Database>;
  audit: WebhookAuditLog;
  clock: Clock;
  log: Logger;
  secrets: SecretBox;
  outbound: OutboundPort;
  cluster: Pick<Cluster, 'reserve' | 'renew' | 'release'>;
  tail(afterLeaf: number, limit: number): Promise<AuditTailPage>;
  consent: ConsentFacts;
  decisions: DecisionPoint;
  load: EntityLoader;
  /** Whether a partner's client is suspended (the auth module's denylist). */
  isSuspended(clientId: string): Promise<boolean>;
  /** Randomness for the retry jitter (tests pass a fixed one). */
  random?: () => number;
}
