/**
 * The outbound layer's audit events: a refused destination (`outbound.blocked`) and a breaker opening or closing.
 * They are written outside any transaction (no state changes with them); a failed write is logged, and never
 * turns a refusal into a pass.
 */
import type { Kysely } from 'kysely';
import type { ActorType } from '../audit/index.js';
import type { CarapaceError, Logger } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { OutboundAuditLog } from './audit-events.js';
import type { BreakerTransition } from './breakers.js';
import type { OutboundPurpose } from './destination.js';

/** Who a call is for, as the audit event names them. */
export interface OutboundCaller {
  tenantId?: string | null;
  actor?: { type: string; id: string } | null;
}

const ACTOR_TYPES = new Set<string>([
  'device',
  'operator',
  'user',
  'application',
  'workload',
  'system',
  'anonymous',
] satisfies ActorType[]);

/** The layer's audit writer. */
export interface OutboundAudit {
  /** Audits a refused destination (the error's reason, host and address; never the path, query or headers). */
  blocked(err: CarapaceError, purpose: OutboundPurpose, stage: 'send' | 'check', who: OutboundCaller): Promise<void>;
  /** Audits a breaker transition in the background (`flush` waits for it). */
  breaker(t: BreakerTransition): void;
  /** Waits for background writes. */
  flush(): Promise<void>;
}

/** Creates the audit writer over the platform's audit log. */
export function createOutboundAudit(deps: {
  db: Kysely<Database>;
  audit: OutboundAuditLog;
  log: Logger;
}): OutboundAudit {
  const pending = new Set<Promise<void>>();
  const write = (what: string, run: () => Promise<void>) =>
    run().catch((err: unknown) => deps.log.error({ err }, `could not audit ${what}`));

  return {
    blocked: (err, purpose, stage, who) => {
      const c = err.context as { reason?: string; host?: string | null; address?: string | null };
      const actor = who.actor && ACTOR_TYPES.has(who.actor.type) ? who.actor : null;
      return write('a blocked outbound call', () =>
        deps.audit.append(deps.db, {
          type: 'outbound.blocked',
          actor: actor ? { type: actor.type as ActorType, id: actor.id } : { type: 'system', id: null },
          tenantId: who.tenantId ?? null,
          object: { type: 'outbound_destination', id: c.host ?? null },
          action: `outbound:${stage}`,
          decision: 'deny',
          reason: c.reason ?? 'blocked',
          // The host and the address only: a path or query may carry a secret, and headers are never recorded.
          details: { purpose, host: c.host ?? null, address: c.address ?? null },
        }),
      );
    },
    breaker: (t) => {
      const p = write('a breaker transition', () =>
        deps.audit.append(deps.db, {
          type: t.to === 'opened' ? 'outbound.breaker.opened' : 'outbound.breaker.closed',
          actor: { type: 'system', id: null },
          object: { type: 'outbound_endpoint', id: t.key },
          action: 'outbound:breaker',
          decision: 'info',
          reason: t.to === 'opened' ? 'consecutive_failures' : 'trial_succeeded',
          details: t.to === 'opened' ? { failures: t.failures } : {},
        }),
      );
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },
    flush: async () => {
      await Promise.all([...pending]);
    },
  };
}
