#!/usr/bin/env node
// The CLI runs the compiled build; `npm install` builds it through the `prepare` script.
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error('carapace: the build is missing. Run `npm run build` (npm install does this for you).');
    process.exit(1);
  }
  throw err;
});
