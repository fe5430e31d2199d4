import { type ChildProcess, spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort } from '../../src/testing/index.js';

/** A redis-server of the test's own, on a port of its own, that the test stops, freezes and restarts. */
export interface PrivateRedis {
  readonly url: string;
  /** Kills the server (SIGKILL): connections drop, nothing answers the port. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty (no persistence), and waits until it accepts connections. */
  start(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing answers (a hung Redis). */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** Spawns `redis-server --port N --save ''` (fails the test when redis-server is not installed). */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const start = async () => {
    const spawned = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    child = spawned;
    const failed = new Promise<never>((_, reject) => spawned.once('error', reject));
    const until = Date.now() + 10_000;
    while (!(await Promise.race([accepting(port), failed]))) {
      if (Date.now() > until) throw new Error(`redis-server did not start on port ${port}`);
      await sleep(50);
    }
  };
  const stop = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGCONT');
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
    close: stop,
  };
}
