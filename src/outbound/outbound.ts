/**
 * The outbound layer: every call the platform makes to a URL outside itself goes through `send`. It checks the
 * URL's form, resolves the name itself and judges every address, connects to the judged address, follows no
 * redirect, adds nothing of ours, caps time, size and concurrency, keeps a breaker per endpoint, and audits a
 * refused destination as `outbound.blocked`.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { Kysely } from 'kysely';
import type { ActorType } from '../audit/index.js';
import type { Config } from '../config/index.js';
import { CarapaceError, isCarapaceError, type Logger } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import { parseCidrs } from './address-policy.js';
import type { OutboundAuditLog } from './audit-events.js';
import { type BreakerState, type BreakerTransition, createBreakers } from './breakers.js';
import { createBudget } from './budget.js';
import { checkForm, type DestinationRules, judgeDestination, type OutboundPurpose } from './destination.js';
import { type DnsLookup, systemLookup } from './resolve.js';
import { checkHeaders, exchange, type OutboundResponse } from './transport.js';

/** One outbound request. */
export interface OutboundRequest {
  /** Selects the policy (webhook: a client-supplied URL, the strictest). */
  purpose: OutboundPurpose;
  url: string;
  method: 'POST' | 'GET';
  /** The caller's own headers (e.g. webhook-signature); nothing ambient is added. */
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Capped by `outbound.timeout`. */
  timeoutMs?: number;
  /** Capped by `outbound.maxResponseBytes`. */
  maxResponseBytes?: number;
  /** Past the size cap: fail with ERR_OUTBOUND_TOO_LARGE (the default), or stop reading and return what was read. */
  overflow?: 'fail' | 'truncate';
  /** Circuit breaker identity (e.g. a subscription id); default: the URL's origin. */
  breakerKey?: string;
  /** For the audit event of a blocked attempt. */
  tenantId?: string | null;
  actor?: { type: string; id: string } | null;
}

/** Who a registration-time check is for, named in the audit event when the URL is refused. */
export interface OutboundCaller {
  tenantId?: string | null;
  actor?: { type: string; id: string } | null;
}

/** The outbound layer. */
export interface Outbound {
  /** Sends one request, or throws CarapaceError ERR_OUTBOUND_BLOCKED | ERR_OUTBOUND_TIMEOUT |
   *  ERR_OUTBOUND_TOO_LARGE | ERR_OUTBOUND_CIRCUIT_OPEN | ERR_OUTBOUND_BUSY | ERR_OUTBOUND_FAILED. */
  send(req: OutboundRequest): Promise<OutboundResponse>;
  /** Checks a URL at registration time (scheme, form, and the addresses its name resolves to now). */
  checkUrl(url: string, purpose: OutboundPurpose, caller?: OutboundCaller): Promise<URL>;
  /**
   * Checks only a URL's form (scheme, credentials, host), with no DNS and no audit event: for configuration read
   * at start, whose name may not resolve yet. Throws ERR_OUTBOUND_BLOCKED.
   */
  checkUrlForm(url: string): URL;
  /** The state of each breaker, for status routes and tests. */
  breakers(): BreakerState[];
  close(): Promise<void>;
}

/** What tests (never configuration) may inject; `testPublicCidrs` is refused in production mode. */
export interface OutboundInjection {
  /** The name resolver (default: the system's). Tests point it at a DNS server of their own. */
  resolver?: DnsLookup;
  /** Extra CA certificates (PEM) trusted for TLS, besides Node's roots and `outbound.trustedCaFile`. */
  ca?: string[];
  /** CIDRs treated as public, so a local receiver can stand for an internet one. Test-only. */
  testPublicCidrs?: string[];
}

/** The dependencies of the layer. */
export interface OutboundDeps extends OutboundInjection {
  settings: Config['outbound'];
  mode: 'development' | 'production';
  db: Kysely<Database>;
  audit: OutboundAuditLog;
  log: Logger;
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

function rulesOf(deps: OutboundDeps): DestinationRules {
  const s = deps.settings;
  if (deps.mode === 'production' && s.allowLoopbackHttp)
    throw new CarapaceError('ERR_CONFIG_INVALID', 'outbound.allowLoopbackHttp is refused in production mode', {
      key: 'outbound.allowLoopbackHttp',
    });
  if (deps.mode === 'production' && deps.testPublicCidrs?.length)
    throw new CarapaceError('ERR_CONFIG_INVALID', 'test-only public CIDRs are refused in production mode', {
      key: 'outbound',
    });
  const cidrs = (list: readonly string[], key: string) => {
    try {
      return parseCidrs(list);
    } catch {
      throw new CarapaceError('ERR_CONFIG_INVALID', `${key} holds something that is not a CIDR`, { key });
    }
  };
  return {
    loopbackHttp: s.allowLoopbackHttp,
    siemAllowed: cidrs(s.siem.allowPrivateCidrs, 'outbound.siem.allowPrivateCidrs'),
    testPublic: cidrs(deps.testPublicCidrs ?? [], 'outbound (test-only public CIDRs)'),
  };
}

function trustedCas(deps: OutboundDeps): string[] | undefined {
  const extra = [...(deps.ca ?? [])];
  const file = deps.settings.trustedCaFile;
  if (file) {
    try {
      extra.push(readFileSync(file, 'utf8'));
    } catch {
      throw new CarapaceError('ERR_CONFIG_INVALID', 'outbound.trustedCaFile cannot be read', {
        key: 'outbound.trustedCaFile',
      });
    }
  }
  // Node's `ca` replaces its roots: they are passed along so that the configured CAs add to them.
  return extra.length ? [...rootCertificates, ...extra] : undefined;
}

/** Creates the outbound layer; refuses development-only or test-only settings in production mode. */
export function createOutbound(deps: OutboundDeps): Outbound {
  const s = deps.settings;
  const rules = rulesOf(deps);
  const ca = trustedCas(deps);
  const dns = deps.resolver ?? systemLookup;
  const log = deps.log.child({ module: 'outbound' });
  const budget = createBudget(s);
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  const breakers = createBreakers({
    failures: s.breaker.failures,
    cooldownMs: s.breaker.cooldown * 1000,
    log,
    onTransition: (t: BreakerTransition) => track(auditBreaker(t)),
  });

  async function auditBreaker(t: BreakerTransition): Promise<void> {
    await deps.audit
      .append(deps.db, {
        type: t.to === 'opened' ? 'outbound.breaker.opened' : 'outbound.breaker.closed',
        actor: { type: 'system', id: null },
        object: { type: 'outbound_endpoint', id: t.key },
        action: 'outbound:breaker',
        decision: 'info',
        reason: t.to === 'opened' ? 'consecutive_failures' : 'trial_succeeded',
        details: t.to === 'opened' ? { failures: t.failures } : {},
      })
      .catch((err: unknown) => log.error({ err }, 'could not audit a breaker transition'));
  }

  async function auditBlocked(err: CarapaceError, purpose: OutboundPurpose, stage: string, who: OutboundCaller) {
    const c = err.context as { reason?: string; host?: string | null; address?: string | null };
    const actor = who.actor && ACTOR_TYPES.has(who.actor.type) ? who.actor : null;
    await deps.audit
      .append(deps.db, {
        type: 'outbound.blocked',
        actor: actor ? { type: actor.type as ActorType, id: actor.id } : { type: 'system', id: null },
        tenantId: who.tenantId ?? null,
        object: { type: 'outbound_destination', id: c.host ?? null },
        action: `outbound:${stage}`,
        decision: 'deny',
        reason: c.reason ?? 'blocked',
        // The host and the address only: a path or query may carry a secret, and headers are never recorded.
        details: { purpose, host: c.host ?? null, address: c.address ?? null },
      })
      .catch((e: unknown) => log.error({ err: e }, 'could not audit a blocked outbound call'));
  }

  /** Audits a refused destination, then rethrows whatever was thrown. */
  async function audited<T>(purpose: OutboundPurpose, stage: string, who: OutboundCaller, run: () => Promise<T>) {
    try {
      return await run();
    } catch (err) {
      if (isCarapaceError(err, 'ERR_OUTBOUND_BLOCKED')) await auditBlocked(err, purpose, stage, who);
      throw err;
    }
  }

  async function send(req: OutboundRequest): Promise<OutboundResponse> {
    const url = checkForm(req.url, rules);
    const timeoutMs = Math.min(req.timeoutMs ?? s.timeout * 1000, s.timeout * 1000);
    const deadline = AbortSignal.timeout(timeoutMs);
    const headers = checkHeaders(req.headers ?? {});
    const body = typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : (req.body ?? null);
    const attempt = async () =>
      exchange({
        destination: await judgeDestination(url, req.purpose, rules, dns),
        method: req.method,
        headers,
        body,
        connectTimeoutMs: s.connectTimeout * 1000,
        deadline,
        maxResponseBytes: Math.min(req.maxResponseBytes ?? s.maxResponseBytes, s.maxResponseBytes),
        overflow: req.overflow ?? 'fail',
        ca,
      });
    const guarded =
      req.purpose === 'siem' && !s.siem.breaker ? attempt : () => breakers.run(req.breakerKey ?? url.origin, attempt);
    const queued = () =>
      new CarapaceError('ERR_OUTBOUND_TIMEOUT', 'the call waited too long for the outbound budget', {
        reason: 'queue_timeout',
      });
    const run = budget.run(`${url.hostname}:${url.port}`, async () => {
      // A call that waited in the queue past its deadline is not sent (and is not the endpoint's failure).
      if (deadline.aborted) throw queued();
      return guarded();
    });
    // The caller is answered at its deadline even while its call still waits in a queue.
    const expired = new Promise<never>((_, reject) =>
      deadline.addEventListener('abort', () => reject(queued()), { once: true }),
    );
    expired.catch(() => undefined);
    return Promise.race([run, expired]);
  }

  return {
    send: (req) => audited(req.purpose, 'send', req, () => send(req)),
    checkUrl: (raw, purpose, caller = {}) =>
      audited(
        purpose,
        'check',
        caller,
        async () => (await judgeDestination(checkForm(raw, rules), purpose, rules, dns)).url,
      ),
    checkUrlForm: (raw) => checkForm(raw, rules),
    breakers: () => breakers.states(),
    async close() {
      await Promise.all([...pending]);
    },
  };
}
