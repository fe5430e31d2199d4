// Builds the operators' console into dist/console; served by src/console on the admin plane at /console/.
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'console',
  base: '/console/',
  build: { outDir: '../dist/console', emptyOutDir: true, assetsInlineLimit: 0, modulePreload: { polyfill: false } },
});
