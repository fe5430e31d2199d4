#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

// Node 20's V8 (11.3) inlines JS-to-Wasm calls, and its deoptimizer cannot translate a Wasm function that
// returns a reference (cedar-wasm's `statefulIsAuthorized` returns an externref): a lazy deopt of a caller
// while Cedar runs aborts the process ("unreachable code" in DoComputeBuiltinContinuation). Switching off
// just that inlining keeps every other optimization. It must be set before any Wasm is compiled, hence here,
// before the CLI is loaded. Node 22 and later handle reference returns and run as they are.
// Opt-out: a --turbo-inline-js-wasm-calls (or its --no- form) of your own on the command line takes precedence.
const ownFlag = process.execArgv.some((a) => /^--(no-)?turbo-inline-js-wasm-calls$/.test(a));
if (process.versions.node.startsWith('20.') && !ownFlag) setFlagsFromString('--no-turbo-inline-js-wasm-calls');

// The CLI runs the compiled build; `npm install` builds it through the `prepare` script.
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error('carapace: the build is missing. Run `npm run build` (npm install does this for you).');
    process.exit(1);
  }
  throw err;
});
