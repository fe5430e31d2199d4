import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../src/testing/index.js';

/** The CLI as the tests run it (TypeScript through tsx, no build step). */
export const CLI = ['--import', 'tsx', join(import.meta.dirname, '../../src/cli/main.ts')];

/** The environment of a `carapace serve` process on its own free ports, data directory and database schema. */
export async function serverEnvironment(options: {
  dataDir: string;
  url: string | null;
  schema: string;
  seedDemo: boolean;
}): Promise<NodeJS.ProcessEnv & { gatewayUrl: string; publicUrl: string }> {
  const [pub, gw, adm] = [await freePort(), await freePort(), await freePort()];
  return {
    ...process.env,
    // Armed per server start by the test that wants one.
    CARAPACE_FAULT_POINTS: undefined,
    CARAPACE_DATA_DIR: options.dataDir,
    CARAPACE_LOG_LEVEL: 'warn',
    CARAPACE_SEED_DEMO: String(options.seedDemo),
    REDIS_URL: '',
    DATABASE_URL: options.url ?? '',
    CARAPACE_DATABASE_SCHEMA: options.schema,
    CARAPACE_PUBLIC_BASE_URL: `https://localhost:${pub}`,
    CARAPACE_PUBLIC_HOST: '127.0.0.1',
    CARAPACE_PUBLIC_PORT: String(pub),
    CARAPACE_GATEWAY_HOST: '127.0.0.1',
    CARAPACE_GATEWAY_PORT: String(gw),
    CARAPACE_ADMIN_HOST: '127.0.0.1',
    CARAPACE_ADMIN_PORT: String(adm),
    gatewayUrl: `https://localhost:${gw}`,
    publicUrl: `https://localhost:${pub}`,
  };
}

/**
 * A real `carapace serve` process; resolves once it says it is running. A port the killed predecessor held can be
 * refused for a moment after its death (EADDRINUSE): the start is tried again, a few times.
 */
export async function serve(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await serveOnce(env);
    } catch (err) {
      if (attempt >= 5 || !String(err).includes('EADDRINUSE')) throw err;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

async function serveOnce(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn('node', [...(process.env.FAULTS_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...CLI, 'serve'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 60_000);
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('Carapace is running.')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, signal) => reject(new Error(`server exited with ${code ?? signal}: ${err}`)));
  });
  // A death the test did not cause (a crash under load) is reported with the end of what the server wrote.
  child.once('exit', (code, signal) => {
    if (signal !== 'SIGKILL') process.stderr.write(`server exited with ${code ?? signal}: ${err.slice(-2000)}\n`);
  });
  return child;
}

/** Resolves with the signal once `child` has exited (at once when it already has). */
export function exited(child: ChildProcess): Promise<NodeJS.Signals | number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.signalCode ?? child.exitCode);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
}

/** Drops a test's PostgreSQL schema (nothing to do on SQLite). */
export async function dropSchema(url: string | null, schema: string): Promise<void> {
  if (!url) return;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => c.end());
}
