/**
 * True when `err` is a unique-constraint violation from SQLite or PostgreSQL, optionally on a named column or index.
 */
export function isUniqueViolation(err: unknown, name?: string): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; message?: unknown; constraint?: unknown };
  const unique = e.code === '23505' || e.code === 'SQLITE_CONSTRAINT_UNIQUE';
  if (!unique || name === undefined) return unique;
  return String(e.message).includes(name) || String(e.constraint ?? '').includes(name);
}
