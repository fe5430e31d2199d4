import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // TLS key generation and real listeners take longer than vitest's 5 s default on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Node 20.20's V8 intermittently aborts in the TurboFan deoptimizer ("unreachable code" in
    // DoComputeBuiltinContinuation) under the authorization matrix's load. Test workers on Node 20 run
    // without the optimizing tiers; Node 22 and 24 run as they are.
    execArgv: process.versions.node.startsWith('20.') ? ['--max-opt=1'] : [],
  },
});
