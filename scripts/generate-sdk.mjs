// Regenerates the SDK's generated half from the gateway's OpenAPI document (issue 12, ADR 35): builds, writes the
// document the gateway serves (offline, Nest's preview mode) to libs/sdk/openapi.json, and turns it into TypeScript
// types with openapi-typescript (libs/sdk/src/generated/openapi.ts), which openapi-fetch's typed client uses.
// `npm run sdk:generate`; a unit spec fails when the committed files and the document disagree.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (file, args) => execFileSync(file, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });

if (!process.argv.includes('--no-build')) run(process.execPath, ['scripts/build.mjs']);
const document = run(process.execPath, ['dist/apps/gateway/src/openapi-document.js']);
writeFileSync(path.join(root, 'libs/sdk/openapi.json'), document);
run(path.join(root, 'node_modules/.bin/openapi-typescript'), [
  'libs/sdk/openapi.json',
  '-o',
  'libs/sdk/src/generated/openapi.ts',
]);
process.stdout.write('libs/sdk/openapi.json and libs/sdk/src/generated/openapi.ts regenerated\n');
