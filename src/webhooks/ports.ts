/**
 * What the webhooks module needs from the rest of the platform, narrowed. The outbound layer's shape is the one
 * `src/outbound` exports (written against its interface before it was merged; structurally the same).
 */
import type { Kysely } from 'kysely';
import type { SecretBox } from '../identity/index.js';
import type { DecisionPoint, EntityLoader } from '../policy/index.js';
import type { Clock, Logger } from '../platform/index.js';
import type { Cluster } from '../cluster/index.js';
import type { AuditTailPage } from '../audit/index.js';
import type { Database } from '../storage/index.js';
import type { WebhookAuditLog } from './audit-events.js';
import type { ConsentFacts } from './event-types.js';

/** One outbound request, as the outbound layer takes it. */
export interface OutboundRequest {
  purpose: 'webhook' | 'siem';
  url: string;
  method: 'POST' | 'GET';
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  timeoutMs?: number;
  maxResponseBytes?: number;
  breakerKey?: string;
  tenantId?: string | null;
  actor?: { type: string; id: string } | null;
}

/** The outbound layer's answer. */
export interface OutboundResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  address: string;
}

/** The SSRF-safe outbound layer (src/outbound): every request of this module goes through it. */
export interface OutboundPort {
  send(req: OutboundRequest): Promise<OutboundResponse>;
  checkUrl(url: string, purpose: 'webhook' | 'siem'): Promise<URL>;
  breakers(): Array<{ key: string; state: 'closed' | 'open' | 'half-open'; failures: number }>;
}

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
