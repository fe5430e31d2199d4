/**
 * The outbound layer: every call the platform makes to a URL outside itself goes through `send`. It checks the
 * URL's form, resolves the name itself and judges every address, connects to the judged address, follows no
 * redirect, adds nothing of ours, caps time, size and concurrency, keeps a breaker per endpoint, and audits a
 * refused destination as `outbound.blocked`.
 */
import type { Kysely } from 'kysely';
import type { Config } from '../config/index.js';
import { CarapaceError, isCarapaceError, type Logger } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { OutboundAuditLog } from './audit-events.js';
import { createOutboundAudit, type OutboundCaller } from './audit-trail.js';
import { type BreakerState, createBreakers } from './breakers.js';
import { createBudget } from './budget.js';
import { checkForm, judgeDestination, type OutboundPurpose } from './destination.js';
import { destinationRules, trustedCas } from './settings.js';
import { type DnsLookup, systemLookup } from './resolve.js';
import { checkHeaders, exchange, type Exchange, type OutboundResponse } from './transport.js';

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

const queueTimeout = () =>
  new CarapaceError('ERR_OUTBOUND_TIMEOUT', 'the call waited too long for the outbound budget', {
    reason: 'queue_timeout',
  });

/**
 * Answers the caller at its deadline even while its call still waits in a queue; a call under way (it called
 * `started`) reports its own timeout.
 */
function queuedUntil<T>(deadline: AbortSignal, run: (started: () => void) => Promise<T>): Promise<T> {
  let begun = false;
  let onAbort = () => undefined as void;
  const expired = new Promise<never>((_, reject) => {
    onAbort = () => void (begun || reject(queueTimeout()));
    deadline.addEventListener('abort', onAbort, { once: true });
  });
  expired.catch(() => undefined);
  const running = run(() => (begun = true));
  return Promise.race([running, expired]).finally(() => deadline.removeEventListener('abort', onAbort));
}

/** Rejects with ERR_OUTBOUND_TIMEOUT (`connect_timeout`) when `work` is not done by `at` (epoch ms). */
async function beforeDeadline<T>(work: Promise<T>, at: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new CarapaceError('ERR_OUTBOUND_TIMEOUT', 'the name was not resolved in time', { reason: 'connect_timeout' }),
        ),
      Math.max(1, at - Date.now()),
    );
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Creates the outbound layer; refuses development-only or test-only settings in production mode. */
export function createOutbound(deps: OutboundDeps): Outbound {
  const s = deps.settings;
  const rules = destinationRules(deps.settings, deps.mode, deps.testPublicCidrs ?? []);
  const ca = trustedCas(deps.settings, deps.ca ?? []);
  const dns = deps.resolver ?? systemLookup;
  const log = deps.log.child({ module: 'outbound' });
  const budget = createBudget(s);
  const trail = createOutboundAudit({ db: deps.db, audit: deps.audit, log });
  const breakers = createBreakers({
    failures: s.breaker.failures,
    cooldownMs: s.breaker.cooldown * 1000,
    log,
    onTransition: (t) => trail.breaker(t),
  });

  /** Audits a refused destination, then rethrows whatever was thrown. */
  async function audited<T>(
    purpose: OutboundPurpose,
    stage: 'send' | 'check',
    who: OutboundCaller,
    run: () => Promise<T>,
  ) {
    try {
      return await run();
    } catch (err) {
      if (isCarapaceError(err, 'ERR_OUTBOUND_BLOCKED')) await trail.blocked(err, purpose, stage, who);
      throw err;
    }
  }

  /** Judges the destination and makes the exchange, the name and the handshakes within `connectTimeout`. */
  async function attempt(url: URL, req: OutboundRequest, parts: Omit<Exchange, 'destination' | 'connectTimeoutMs'>) {
    const connectBy = Date.now() + s.connectTimeout * 1000;
    const destination = await beforeDeadline(judgeDestination(url, req.purpose, rules, dns), connectBy);
    return exchange({ ...parts, destination, connectTimeoutMs: Math.max(1, connectBy - Date.now()) });
  }

  async function send(req: OutboundRequest): Promise<OutboundResponse> {
    const url = checkForm(req.url, rules, req.purpose);
    const deadline = AbortSignal.timeout(Math.min(req.timeoutMs ?? s.timeout * 1000, s.timeout * 1000));
    const parts = {
      method: req.method,
      headers: checkHeaders(req.headers ?? {}),
      body: typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : (req.body ?? null),
      deadline,
      maxResponseBytes: Math.min(req.maxResponseBytes ?? s.maxResponseBytes, s.maxResponseBytes),
      overflow: req.overflow ?? 'fail',
      ca,
    };
    const call = () => attempt(url, req, parts);
    const guarded =
      req.purpose === 'siem' && !s.siem.breaker ? call : () => breakers.run(req.breakerKey ?? url.origin, call);
    return queuedUntil(deadline, (started) =>
      budget.run(`${url.hostname}:${url.port}`, async () => {
        // A call that waited in the queue past its deadline is not sent (and is not the endpoint's failure).
        if (deadline.aborted) throw queueTimeout();
        started();
        return guarded();
      }),
    );
  }

  return {
    send: (req) => audited(req.purpose, 'send', req, () => send(req)),
    checkUrl: (raw, purpose, caller = {}) =>
      audited(
        purpose,
        'check',
        caller,
        async () => (await judgeDestination(checkForm(raw, rules, purpose), purpose, rules, dns)).url,
      ),
    checkUrlForm: (raw) => checkForm(raw, rules),
    breakers: () => breakers.states(),
    close: () => trail.flush(),
  };
}
