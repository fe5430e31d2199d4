/**
 * Runs once before any test file. With CI=true the PostgreSQL and Redis tests must run, not vanish: both
 * DATABASE_URL and REDIS_URL have to be set and answer (`select 1`, `PING`) within a few seconds, or the
 * whole run fails here with a message naming what is wrong. Without CI=true nothing is required; the tests
 * that need an engine run only when its variable is set.
 */
import { Redis } from 'ioredis';
import pg from 'pg';

const TIMEOUT_MS = 3000;

/** `p`, or a rejection once TIMEOUT_MS have passed (a filtered port never answers). */
function withTimeout<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer)) as Promise<T>;
}

/** Fails with a clear message unless PostgreSQL at `url` answers `select 1`. */
async function checkPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: TIMEOUT_MS });
  try {
    await withTimeout(client.connect().then(() => client.query('select 1')));
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Fails with a clear message unless Redis at `url` answers PING. */
async function checkRedis(url: string): Promise<void> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // ioredis reports the cause (refused, timed out) as an error event, then rejects with "Connection is closed".
  let cause: Error | undefined;
  redis.on('error', (err: Error) => (cause ??= err));
  try {
    await withTimeout(redis.connect().then(() => redis.ping()));
  } catch (err) {
    throw cause ?? err;
  } finally {
    redis.disconnect();
  }
}

/** The error's message without trailing dots (it is embedded in a sentence). */
function reason(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\.+$/, '');
}

/** Hides the password of a connection URL in messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** vitest globalSetup: under CI=true, refuse to run unless PostgreSQL and Redis are configured and reachable. */
export default async function setup(): Promise<void> {
  if (process.env.CI !== 'true') return;
  const problems: string[] = [];
  const checks: Array<[name: string, url: string | undefined, check: (url: string) => Promise<void>]> = [
    ['DATABASE_URL', process.env.DATABASE_URL, checkPostgres],
    ['REDIS_URL', process.env.REDIS_URL, checkRedis],
  ];
  await Promise.all(
    checks.map(async ([name, url, check]) => {
      if (!url) {
        problems.push(`${name} is not set`);
        return;
      }
      try {
        await check(url);
      } catch (err) {
        problems.push(`${name} (${redact(url)}) is unreachable: ${reason(err)}`);
      }
    }),
  );
  if (problems.length > 0)
    throw new Error(
      `CI=true requires PostgreSQL and Redis so that no test is skipped: ${problems.sort().join('; ')}. ` +
        'Set DATABASE_URL and REDIS_URL to running servers (.ci/run starts them), or unset CI for a local run.',
    );
}
