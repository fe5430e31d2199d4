import { execFile } from 'node:child_process';
import { type AddressInfo, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const vitest = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));
// A small, fast file: the guard runs before any test file, so which one hardly matters.
const TINY = 'src/platform/errors.test.ts';

/** A loopback port nothing listens on (bound, then closed): connecting to it is refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Runs vitest on TINY in a child process with `env` laid over this process's environment (minus vitest's own). */
async function childRun(env: Record<string, string | undefined>): Promise<{ code: number; output: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST')));
  try {
    const { stdout, stderr } = await run(process.execPath, [vitest, 'run', TINY], {
      cwd: root,
      env: { ...base, NO_COLOR: '1', ...env },
      timeout: 60_000,
    });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('CI=true refuses to run without PostgreSQL and Redis', () => {
  it('fails when DATABASE_URL points at a closed port or REDIS_URL is missing, and not without CI', async () => {
    const closed = `postgres://postgres@127.0.0.1:${await closedPort()}/test`;
    const [unreachable, missing, local] = await Promise.all([
      childRun({ CI: 'true', DATABASE_URL: closed, REDIS_URL: 'redis://127.0.0.1:6379' }),
      childRun({ CI: 'true', DATABASE_URL: closed, REDIS_URL: undefined }),
      childRun({ CI: undefined, DATABASE_URL: undefined, REDIS_URL: undefined }),
    ]);
    expect(unreachable.code).not.toBe(0);
    expect(unreachable.output).toContain('CI=true requires PostgreSQL and Redis');
    expect(unreachable.output).toMatch(/DATABASE_URL \(postgres:\/\/postgres@127\.0\.0\.1:\d+\/test\) is unreachable/);
    expect(missing.code).not.toBe(0);
    expect(missing.output).toContain('REDIS_URL is not set');
    expect(missing.output).not.toContain('Tests  2 passed');
    // The control: the same tiny file passes when CI is not set, so the failures above are the guard's.
    expect(local.output).toContain('Tests  2 passed');
    expect(local.code).toBe(0);
  });
});
