#!/usr/bin/env node
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import module from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, URL } from 'node:url';
import { setFlagsFromString } from 'node:v8';

// Node 20's V8 (11.3) inlines JS-to-Wasm calls, and its deoptimizer cannot translate a Wasm function that
// returns a reference (cedar-wasm's `statefulIsAuthorized` returns an externref): a lazy deopt of a caller
// while Cedar runs aborts the process ("unreachable code" in DoComputeBuiltinContinuation). Switching off
// just that inlining keeps every other optimization. It must be set before any Wasm is compiled, hence here,
// before the CLI is loaded. Node 22 and later handle reference returns and run as they are.
// Opt-out: a --turbo-inline-js-wasm-calls (or its --no- form) of your own on the command line takes precedence.
const ownFlag = process.execArgv.some((a) => /^--(no-)?turbo-inline-js-wasm-calls$/.test(a));
if (process.versions.node.startsWith('20.') && !ownFlag) setFlagsFromString('--no-turbo-inline-js-wasm-calls');

// Loading the CLI's module graph is most of a short command's time; Node 22.1+ can keep the compiled code between
// runs (in the system's temporary directory, keyed by each file's content). Node 20 has no such cache.
module.enableCompileCache?.();

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = join(root, 'dist', 'cli', 'main.js');

// The version needs neither the build nor the server's modules (loading them prints the runtime notices of
// oidc-provider and takes a second), so it answers at once, even before the first build.
if (process.argv.length === 3 && ['-V', '--version'].includes(process.argv[2])) {
  process.stdout.write(`${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version}\n`);
  process.exit(0);
}

/** The newest TypeScript source under dir, as [mtimeMs, path]. */
function newestSource(dir) {
  let newest = [0, ''];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    const candidate = e.isDirectory()
      ? newestSource(path)
      : e.name.endsWith('.ts')
        ? [statSync(path).mtimeMs, path]
        : null;
    if (candidate && candidate[0] > newest[0]) newest = candidate;
  }
  return newest;
}

// `npm install` builds once (the `prepare` script); `npm start` no longer recompiles. So say clearly when the
// build is missing, or older than the sources of a clone (an installed package ships no src/ and is not checked).
if (!existsSync(entry)) {
  console.error('carapace: the build is missing (dist/). Run `npm run build` (npm install does this for you).');
  process.exit(1);
}
if (existsSync(join(root, 'src'))) {
  const [changed, path] = newestSource(join(root, 'src'));
  if (changed > statSync(entry).mtimeMs)
    console.error(
      `carapace: the build is stale: ${path.slice(root.length)} changed after the last build. ` +
        'Run `npm run build` to run your changes; this run uses the old build.',
    );
}

await import(entry);
