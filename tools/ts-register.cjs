// Lets a child process or worker thread run from TypeScript sources (Jest and other in-repo tooling start parser
// hosts and worker-thread programs from src/): compiles
// each .ts file with the same SWC options as the build, which also turns `@quarry/*` imports into relative paths.
// The built host (dist/…/host.js) never loads this file.
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { transformSync } = require('@swc/core');
const { swcOptions } = require(path.join(__dirname, 'swc-options.cjs'));

const options = { ...swcOptions({ sourceMaps: 'inline' }), swcrc: false };
Module._extensions['.ts'] = function compile(module, filename) {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), { ...options, filename });
  module._compile(code, filename);
};
