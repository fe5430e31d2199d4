import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { App } from '../http/index.js';
import { sendProblem } from '../http/index.js';
import type { Logger } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { GatewayAuditLog } from './audit-events.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Gives this request's admission slot back (idempotent); null when the path is not admission-controlled. */
    admitted: (() => void) | null;
  }
}

/** How often the refusals counted in one process are audited, as one event per guarded path. */
const AUDIT_INTERVAL_MS = 10_000;

/** Admission control of the expensive gateway paths: what the listener and the tests see of it. */
export interface Admission {
  /** Requests holding a slot now, per guarded path. */
  inFlight(path: string): number;
  /** Audits the refusals counted since the last flush (one event per path), nothing when none. */
  flush(): Promise<void>;
  /** Stops the timer and flushes what is left. */
  close(): Promise<void>;
}

/**
 * A bounded number of concurrent requests per expensive gateway path (token issuance, channel opening). A fleet that
 * comes back together after a restart queued thousands of them at once: every one got slower, renewals queued past
 * their token's expiry and channels dropped with 4401 (issue 18). Beyond the bound the gateway answers at once with
 * 503 `ERR_GATEWAY_BUSY` and `Retry-After`, before any authentication work, so a refusal costs almost nothing; the
 * SDK waits that long plus jitter. It only ever refuses: what it admits goes through every check as before. Refusals
 * are counted and audited per interval in aggregate (`gateway.admission.refused`, `details.count`), never one by
 * one: a storm of refusals must not become a storm of audit writes.
 */
export function admissionControl(
  app: App,
  deps: {
    /** Path -> the most requests on it at once in this process. */
    limits: Record<string, number>;
    retryAfterSeconds: number;
    db: Kysely<Database>;
    audit: GatewayAuditLog;
    log: Logger;
  },
): Admission {
  const held = new Map<string, number>(Object.keys(deps.limits).map((p) => [p, 0]));
  let refused = new Map<string, number>();
  app.decorateRequest('admitted', null);

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0] ?? '';
    const limit = deps.limits[path];
    if (limit === undefined) return;
    const now = held.get(path) ?? 0;
    if (now >= limit) {
      refused.set(path, (refused.get(path) ?? 0) + 1);
      reply.header('retry-after', String(deps.retryAfterSeconds));
      return sendProblem(reply, 'ERR_GATEWAY_BUSY', 'the gateway is at capacity for this request; retry later');
    }
    held.set(path, now + 1);
    let done = false;
    const socket = req.raw.socket;
    const release = () => {
      if (done) return;
      done = true;
      held.set(path, (held.get(path) ?? 1) - 1);
      // A kept-alive connection carries many requests: each takes its listener off again.
      socket.off('close', release);
    };
    req.admitted = release;
    // Whichever comes first: the answer is out, the client went away, or the route gave the slot back (a WebSocket
    // route does once its channel is set up: an open channel is cheap, opening one is not).
    reply.raw.once('finish', release);
    reply.raw.once('close', release);
    socket.once('close', release);
  });

  async function flush(): Promise<void> {
    const taken = refused;
    refused = new Map();
    if (taken.size === 0) return;
    await deps.db.transaction().execute(async (trx) => {
      for (const [path, count] of taken)
        await deps.audit.append(trx, {
          type: 'gateway.admission.refused',
          actor: { type: 'anonymous', id: null },
          object: { type: 'listener', id: 'gateway' },
          action: path,
          decision: 'deny',
          reason: 'gateway_busy',
          context: { requestId: null, traceId: null, sourceIp: null },
          details: { path, count, limit: deps.limits[path] ?? 0, intervalSeconds: AUDIT_INTERVAL_MS / 1000 },
        });
    });
  }
  const flushLogged = () => flush().catch((err: unknown) => deps.log.error({ err }, 'could not audit busy refusals'));
  const timer = setInterval(() => void flushLogged(), AUDIT_INTERVAL_MS);
  timer.unref();

  return {
    inFlight: (path) => held.get(path) ?? 0,
    flush,
    async close() {
      clearInterval(timer);
      await flushLogged();
    },
  };
}
