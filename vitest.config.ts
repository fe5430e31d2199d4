import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // TLS key generation and real listeners take longer than vitest's 5 s default on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Node 20.20's V8 intermittently aborts a test worker ("Fatal error … unreachable code" in
    // Deoptimizer::DoComputeBuiltinContinuation), seen in the authorization matrix on main too. Not
    // inlining array builtins into optimized code removes the builtin continuation frames it trips on.
    execArgv: ['--no-turbo-inline-array-builtins'],
  },
});
