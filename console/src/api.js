/* global fetch, TextDecoderStream, AbortController */
// The console's one fetch wrapper: same-origin credentials, the CSRF header, problem+json rendered as an Error.
export class Problem extends Error {
  constructor(status, body) {
    super(body?.detail || body?.title || `HTTP ${status}`);
    this.status = status;
    this.type = body?.type ?? null;
  }
}

/** Calls an admin-plane API and returns its JSON, or throws a Problem carrying the server's detail. */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { 'X-Carapace-Console': '1', accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Problem(res.status, data);
  return data;
}

/**
 * Follows a server-sent-events route with fetch (an EventSource cannot send the console header): calls `onEvent`
 * with each event's parsed data, and `onEnd` (with a Problem or null) when the stream ends. Returns a stop function.
 */
export function follow(path, onEvent, onEnd) {
  const abort = new AbortController();
  const run = async () => {
    const res = await fetch(path, {
      headers: { 'X-Carapace-Console': '1', accept: 'text/event-stream' },
      credentials: 'same-origin',
      signal: abort.signal,
    });
    if (!res.ok) throw new Problem(res.status, await res.json().catch(() => null));
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const data = buffer
          .slice(0, cut)
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        buffer = buffer.slice(cut + 2);
        if (data) onEvent(JSON.parse(data));
      }
    }
  };
  run().then(
    () => onEnd(null),
    (e) => !abort.signal.aborted && onEnd(e),
  );
  return () => abort.abort();
}
