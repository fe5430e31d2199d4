/**
 * The SIEM HTTP sink's outbound client: the one place this module talks to the network. It is deliberately small
 * (one POST, a timeout, no redirects, TLS verified by Node's defaults) because a later issue builds the shared
 * SSRF-safe outbound layer (DESIGN: `webhooks` and one outbound HTTP layer); this client should move onto it then.
 */
import { isIP } from 'node:net';
import { CarapaceError } from '../platform/index.js';

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
/** Bytes of a collector's answer read at most before the body is abandoned. */
const ANSWER_BYTES = 64 * 1024;

async function drainSome(res: Response): Promise<void> {
  const reader = res.body?.getReader();
  if (!reader) return;
  try {
    for (let read = 0; read <= ANSWER_BYTES;) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // A body cut off by the timeout or the peer: the status already said what we need.
  }
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** Refuses a collector URL that is not https, except a loopback http URL in development (local test collectors). */
export function checkCollectorUrl(raw: string, mode: 'development' | 'production'): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CarapaceError('ERR_CONFIG_INVALID', 'audit.export.http.url is not a URL', {
      key: 'audit.export.http.url',
    });
  }
  // Credentials belong in the environment variable `http.authorizationEnv` names; fetch refuses a URL holding
  // them on every POST (and repeats them in its error), so the sink would only ever fail.
  if (url.username || url.password)
    throw new CarapaceError(
      'ERR_CONFIG_INVALID',
      'audit.export.http.url must not carry credentials: put the Authorization value in http.authorizationEnv',
      { key: 'audit.export.http.url' },
    );
  const host = url.hostname;
  const loopback = LOOPBACK.has(host) || (isIP(host) === 4 && host.startsWith('127.'));
  if (url.protocol === 'https:' || (url.protocol === 'http:' && loopback && mode === 'development')) return url;
  throw new CarapaceError(
    'ERR_CONFIG_INVALID',
    'audit.export.http.url must be https (http only to a loopback address in development mode)',
    { key: 'audit.export.http.url' },
  );
}

/** Milliseconds from a Retry-After header (seconds or an HTTP date), or null. */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/** Creates the POST function of the HTTP sink. */
export function createHttpPoster(
  settings: HttpSinkSettings,
  now: () => number,
): (lines: string[]) => Promise<PostResult> {
  const ndjson = settings.format === 'ndjson';
  const headers: Record<string, string> = {
    'content-type': ndjson ? 'application/x-ndjson' : 'application/json',
    'user-agent': 'carapace-siem-export',
  };
  if (settings.authorization) {
    // A line break would be header injection; fetch refuses it on every POST instead. Refused here, at start.
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
      const res = await fetch(settings.url, {
        method: 'POST',
        headers,
        body,
        // A redirect could point the batch (and the credential) at another host: it counts as a failure.
        redirect: 'manual',
        signal: AbortSignal.timeout(settings.timeoutMs),
      });
      // The answer's body means nothing to us: a little is read (so the connection can be kept), never an
      // endless or huge one into memory.
      await drainSome(res);
      if (res.status >= 200 && res.status < 300) return { ok: true };
      return {
        ok: false,
        error: `collector answered ${res.status}`,
        retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), now()),
      };
    } catch (err) {
      // Only the error's name and code: undici errors never carry our headers, and nothing else is needed.
      const e = err as { name?: string; cause?: { code?: string } };
      return { ok: false, error: `${e.name ?? 'Error'} ${e.cause?.code ?? ''}`.trim(), retryAfterMs: null };
    }
  };
}
