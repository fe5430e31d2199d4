/* global fetch */
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
