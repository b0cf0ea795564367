#!/usr/bin/env node
// `quarry`: runs the built CLI (dist/apps/cli/src/main.js, made by `node scripts/build.mjs` or `npm start`).
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const entry = path.resolve(__dirname, '../../../dist/apps/cli/src/main.js');
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(
    `quarry: Node ${process.versions.node} is too old; it needs Node >= 22.13 ` +
      '(npx quarry from the repository uses the Node 24 that npm installed in node_modules/.bin)\n',
  );
  process.exit(2);
}
if (!fs.existsSync(entry)) {
  process.stderr.write('quarry: the CLI is not built yet; run npm start or node scripts/build.mjs first\n');
  process.exit(2);
}
require(entry);
