// One SWC configuration for the build and for Jest, so tests run the code exactly as shipped.
// `ignoreDynamic` keeps `await import()` as a real dynamic import: pdf.js is ESM-only.
const path = require('node:path');

const root = path.resolve(__dirname, '..');

/** @param {{ sourceMaps?: boolean | 'inline' }} [opts] */
function swcOptions(opts = {}) {
  return {
    jsc: {
      parser: { syntax: 'typescript', decorators: true, dynamicImport: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
      target: 'es2023',
      keepClassNames: true,
      baseUrl: root,
      paths: { '@quarry/*': ['libs/*/src/index.ts'] },
    },
    module: { type: 'commonjs', ignoreDynamic: true, strictMode: true },
    sourceMaps: opts.sourceMaps ?? true,
  };
}

module.exports = { swcOptions, root };
