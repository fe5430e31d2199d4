/**
 * Errors that mean "the database could not answer", not "the request was wrong" nor "the code is wrong": a lost or
 * refused connection, a timeout (ours or the server's), a server shutting down or out of connections, SQLite locked
 * past its busy timeout. The HTTP layer answers them 503 ERR_DATABASE_UNAVAILABLE with Retry-After, never 500.
 */

/** PostgreSQL SQLSTATE codes of an unavailable server: connection exceptions (class 08), shutdown, cancel, limits. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57014', '53300', '53400', '25P03']);
/** Node socket errors on the way to the database. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);
/** pg's own messages for a connection it lost or could not open in time (it sets no code on these). */
const PG_MESSAGES = [
  'Connection terminated',
  'Query read timeout',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Connection terminated unexpectedly',
  'Cannot use a pool after calling end on the pool',
];

function unavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') && code.length === 5) return true;
    if (UNAVAILABLE_SQLSTATES.has(code) || SOCKET_CODES.has(code)) return true;
    if (code.startsWith('SQLITE_BUSY') || code === 'SQLITE_IOERR' || code === 'SQLITE_FULL') return true;
  }
  return PG_MESSAGES.some((m) => err.message.startsWith(m));
}

/** True when `err` (or an error it wraps, through `cause`) says the database could not answer. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++)
    if (unavailable(e)) return true;
  return false;
}
