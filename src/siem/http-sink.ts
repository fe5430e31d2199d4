/**
 * The SIEM HTTP sink's client: one POST per batch through the shared outbound layer (src/outbound), which owns the
 * network rules (https only, the collector's addresses judged, no redirects, TLS verified, time and size capped).
 * This file only builds the request and turns the answer into the exporter's outcome.
 */
import { CarapaceError, isCarapaceError } from '../platform/index.js';
import type { Outbound } from '../outbound/index.js';

/** Settings of the HTTP sink (`audit.export.http.*`), with the authorization value already read. */
export interface HttpSinkSettings {
  url: string;
  format: 'json' | 'ndjson';
  /** The `Authorization` header value, or null. Never logged, never put in an error or a status. */
  authorization: string | null;
  timeoutMs: number;
}

/** The outcome of one POST: delivered, or failed with a reason safe to log and the collector's Retry-After. */
export type PostResult = { ok: true } | { ok: false; error: string; retryAfterMs: number | null };

/** Visible ASCII and spaces/tabs, with no control character: what a header value may be. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Bytes of a collector's answer read at most: the rest is not read (the answer's body means nothing to us). */
const ANSWER_BYTES = 64 * 1024;

/**
 * Refuses, at start, a collector URL the outbound layer would refuse on every POST: not https (http only to
 * loopback in development with `outbound.allowLoopbackHttp`), or with credentials in it (they belong in the
 * variable `http.authorizationEnv` names). The URL itself is never repeated: it may hold a secret.
 */
export function checkCollectorUrl(raw: string, outbound: Pick<Outbound, 'checkUrlForm'>): URL {
  try {
    return outbound.checkUrlForm(raw);
  } catch (err) {
    const reason = isCarapaceError(err) ? String(err.context.reason) : 'invalid_url';
    const why: Record<string, string> = {
      userinfo: 'must not carry credentials: put the Authorization value in http.authorizationEnv',
      scheme: 'must be https (http only to a loopback address in development, with outbound.allowLoopbackHttp)',
    };
    throw new CarapaceError('ERR_CONFIG_INVALID', `audit.export.http.url ${why[reason] ?? 'is not a URL'}`, {
      key: 'audit.export.http.url',
    });
  }
}

/** Milliseconds from a Retry-After header (seconds or an HTTP date), or null. */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/** Creates the POST function of the HTTP sink, sending through the outbound layer. */
export function createHttpPoster(
  settings: HttpSinkSettings,
  now: () => number,
  outbound: Pick<Outbound, 'send'>,
): (lines: string[]) => Promise<PostResult> {
  const ndjson = settings.format === 'ndjson';
  const headers: Record<string, string> = {
    'content-type': ndjson ? 'application/x-ndjson' : 'application/json',
    'user-agent': 'carapace-siem-export',
  };
  if (settings.authorization) {
    // A line break would be header injection; the outbound layer refuses it on every POST. Refused here, at start.
    if (!HEADER_VALUE.test(settings.authorization))
      throw new CarapaceError(
        'ERR_CONFIG_INVALID',
        'the collector Authorization value (http.authorizationEnv) holds a control character',
        { key: 'audit.export.http.authorizationEnv' },
      );
    headers.authorization = settings.authorization;
  }
  return async (lines) => {
    const body = ndjson ? `${lines.join('\n')}\n` : `[${lines.join(',')}]`;
    try {
      // A redirect is an answer like any other (never followed): the batch and the credential stay with the
      // configured collector. A huge or endless answer is cut after ANSWER_BYTES.
      const res = await outbound.send({
        purpose: 'siem',
        url: settings.url,
        method: 'POST',
        headers,
        body,
        timeoutMs: settings.timeoutMs,
        maxResponseBytes: ANSWER_BYTES,
        overflow: 'truncate',
      });
      if (res.status >= 200 && res.status < 300) return { ok: true };
      return {
        ok: false,
        error: `collector answered ${res.status}`,
        retryAfterMs: parseRetryAfter(res.headers['retry-after'] ?? null, now()),
      };
    } catch (err) {
      // Only the error's code and reason: never the URL (it may hold a secret) and never our headers.
      const e = isCarapaceError(err) ? `${err.code} ${String(err.context.reason ?? '')}` : 'Error';
      return { ok: false, error: e.trim(), retryAfterMs: null };
    }
  };
}
