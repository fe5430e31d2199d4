/**
 * How the benchmarks run Carapace: exactly as `npm start` does, `node bin/carapace.js serve` over the compiled
 * `dist/` (so the Node 20 V8 flag in bin/carapace.js applies, and no TypeScript loader is in the process).
 * Only the load generator runs under tsx. The build is refreshed first, as `npm start`'s prestart does;
 * BENCH_NO_BUILD=1 skips that when dist/ is known to be current.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const BIN = join(root, 'bin', 'carapace.js');
let built = false;

/** Compiles src/ to dist/ once per benchmark process (what `npm start` runs first). */
async function build(): Promise<void> {
  if (built || process.env.BENCH_NO_BUILD === '1') return;
  await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
  });
  built = true;
}

/** Runs one `carapace` CLI command (migrate, seed, pki …) through bin/carapace.js. */
export async function carapace(args: string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string }> {
  await build();
  return run(process.execPath, [BIN, ...args], { env, maxBuffer: 64 * 1024 * 1024 });
}

/** Starts `node bin/carapace.js serve` and resolves once it says it is running. */
export async function serve(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  await build();
  // BENCH_CPU_PROFILE=<dir> writes a V8 CPU profile of the server process there (open it in Chrome DevTools).
  const profile = process.env.BENCH_CPU_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`]
    : [];
  const child = spawn(process.execPath, [...profile, BIN, 'serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('Carapace is running.')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
  return child;
}

/** Stops a server started by serve() and waits for it to exit. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** The environment of a server on its own data directory and loopback ports, without Redis. */
export function serverEnv(
  dataDir: string,
  ports: { pub: number; gw: number; adm: number },
  extra: Record<string, string | undefined> = {},
): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CARAPACE_DATA_DIR: dataDir,
    CARAPACE_LOG_LEVEL: 'warn',
    CARAPACE_SEED_DEMO: 'false',
    REDIS_URL: '',
    DATABASE_URL: '',
    CARAPACE_PUBLIC_BASE_URL: `https://localhost:${ports.pub}`,
    CARAPACE_PUBLIC_HOST: '127.0.0.1',
    CARAPACE_PUBLIC_PORT: String(ports.pub),
    CARAPACE_GATEWAY_HOST: '127.0.0.1',
    CARAPACE_GATEWAY_PORT: String(ports.gw),
    CARAPACE_ADMIN_HOST: '127.0.0.1',
    CARAPACE_ADMIN_PORT: String(ports.adm),
    ...extra,
  };
}
