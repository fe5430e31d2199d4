import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // With CI=true, a missing or unreachable DATABASE_URL or REDIS_URL fails the run before any test starts.
    globalSetup: ['test/global-setup.ts'],
    // TLS key generation and real listeners take longer than vitest's 5 s default on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Node 20's V8 aborts when it deoptimizes a caller of an inlined JS-to-Wasm call that returns a reference
    // (cedar-wasm): switch off only that inlining in the test workers, as bin/carapace.js does for the server.
    execArgv: process.versions.node.startsWith('20.') ? ['--no-turbo-inline-js-wasm-calls'] : [],
  },
});
