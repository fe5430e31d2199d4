#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

// Node 20.20's V8 can abort in the optimizing compiler's deoptimizer ("unreachable code" in
// DoComputeBuiltinContinuation) under sustained API load. On Node 20, run without the optimizing tiers
// (before any of our code is loaded, so nothing has been optimized yet). Node 22 and 24 are unaffected.
// A --max-opt of your own takes precedence: `node --max-opt=999 bin/carapace.js serve` for full optimization.
const ownMaxOpt = process.execArgv.some((a) => a.startsWith('--max-opt'));
if (process.versions.node.startsWith('20.') && !ownMaxOpt) setFlagsFromString('--max-opt=1');

// The CLI runs the compiled build; `npm install` builds it through the `prepare` script.
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error('carapace: the build is missing. Run `npm run build` (npm install does this for you).');
    process.exit(1);
  }
  throw err;
});
