/**
 * Module boundaries (DESIGN rule 11): a folder under src/ is a module, its index.ts is its only door, and modules
 * do not import each other in cycles. Type-only imports count: a cycle of types is still a cycle of modules.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-module-internals',
      severity: 'error',
      comment: 'Import another module only through its index.ts, never one of its files.',
      from: { path: '^src/([^/]+)/' },
      to: { path: '^src/[^/]+/.+', pathNot: ['^src/$1/', '^src/[^/]+/index\\.ts$'] },
    },
    {
      name: 'no-internals-from-outside',
      severity: 'error',
      comment: 'Tests, benchmarks and scripts use modules the way other modules do: through index.ts.',
      from: { path: '^(test|bench|scripts)/' },
      to: { path: '^src/[^/]+/.+', pathNot: ['^src/[^/]+/index\\.ts$'] },
    },
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'Modules (and files) import each other without cycles.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'decision-point-stays-light',
      severity: 'error',
      comment:
        'The policy module, the route framework and token verification never load the authorization server ' +
        '(oidc-provider): a resource server or a policy test imports them alone.',
      from: { path: '^src/(policy|http|tokens|wire)/', pathNot: '\\.test\\.ts$' },
      to: { path: 'node_modules/oidc-provider', reachable: true },
    },
    {
      name: 'no-test-code-in-product',
      severity: 'error',
      comment: 'Product code never imports the test harness.',
      from: { path: '^src/', pathNot: ['\\.test\\.ts$', '^src/testing/'] },
      to: { path: '^src/testing/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.check.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
    exclude: { path: '^dist/' },
  },
};
