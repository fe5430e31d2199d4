import { defineConfig } from 'vitest/config';
import { SlowestFirst } from './test/slow-first.js';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // With CI=true, a missing or unreachable DATABASE_URL or REDIS_URL fails the run before any test starts.
    globalSetup: ['test/global-setup.ts'],
    // A hang guard, not a speed check: TLS key generation, real listeners and the CLI tests' child processes
    // (several seconds each to load the server on 2 cores) take far longer than vitest's 5 s default.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Most end-to-end time is spent waiting on sockets, timers and child processes, not on the CPU: two workers
    // on 2 cores roughly halve the run (each worker has its own block of test ports, src/testing/carapace.ts).
    maxWorkers: 2,
    // Each worker keeps its loaded modules between files: importing the server's module graph again for every
    // file cost about a quarter of the run. Files share no state through modules (each starts its own servers on
    // its own ports and data directories), and an env variable a test sets is restored by that test.
    isolate: false,
    sequence: { sequencer: SlowestFirst },
    // Node 20's V8 aborts when it deoptimizes a caller of an inlined JS-to-Wasm call that returns a reference
    // (cedar-wasm): switch off only that inlining in the test workers, as bin/carapace.js does for the server.
    execArgv: process.versions.node.startsWith('20.') ? ['--no-turbo-inline-js-wasm-calls'] : [],
  },
});
