// The web console (ADR 38): a Preact single-page app bundled into dist/console, which the gateway serves at
// /console. Built by scripts/build.mjs after the SWC step; nothing is loaded from elsewhere at run time.
import path from 'node:path';
import { defineConfig } from 'vite';

const root = import.meta.dirname;
const repo = path.resolve(root, '../..');

export default defineConfig({
  root,
  base: '/console/',
  logLevel: 'warn',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  resolve: {
    // The SDK straight from its sources: one bundle, tree-shaken, no build of the library first.
    alias: { '@quarry/sdk': path.join(repo, 'libs/sdk/src/index.ts') },
  },
  build: {
    outDir: path.join(repo, 'dist/console'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // No inline scripts or data: URLs for the gateway's Content-Security-Policy of 'self' only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    rolldownOptions: {
      // The SDK reads a path with node:fs only when given a string path, which the console never does: the
      // import stays a dynamic import no browser runs, instead of a stub in the bundle.
      external: ['node:fs', 'node:path'],
    },
  },
});
