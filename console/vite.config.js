// Builds the operators' console into dist/console-web (not dist/console: that holds the compiled src/console, and
// emptyOutDir would delete it); served by src/console on the admin plane at /console/.
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'console',
  base: '/console/',
  build: { outDir: '../dist/console-web', emptyOutDir: true, assetsInlineLimit: 0, modulePreload: { polyfill: false } },
});
