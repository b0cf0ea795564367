// Compiles apps/, libs/, bench/ and e2e/ (tests excluded) to dist/ with SWC, keeping the source tree's layout so
// `@quarry/*` imports become relative paths that resolve inside dist/. Takes a few seconds.
import { transformFile } from '@swc/core';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { swcOptions, root } = require('../tools/swc-options.cjs');

const isSource = (f) =>
  f.endsWith('.ts') && !f.endsWith('.d.ts') && !/\.(spec|int-spec|e2e-spec|chaos-spec)\.ts$/.test(f);

async function* walk(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      // Test-only folders (fixtures, apps' test harnesses) are never part of what ships.
      if (['node_modules', '__fixtures__'].includes(entry.name)) continue;
      if (entry.name === 'testing' && full.includes(`${path.sep}apps${path.sep}`)) continue;
      // The web console is a browser bundle, built by Vite below, not a Node program.
      if (full === path.join(root, 'apps', 'console')) continue;
      yield* walk(full);
    } else if (isSource(entry.name)) yield full;
  }
}

const started = Date.now();
const out = path.join(root, 'dist');
await rm(out, { recursive: true, force: true });
const files = [];
// e2e/ is built for the scripts its tests start as processes of their own (the one-process trace
// harness). A folder that is absent (the Docker image copies no e2e sources) is skipped.
for (const top of ['apps', 'libs', 'bench', 'e2e']) {
  if (!existsSync(path.join(root, top))) continue;
  for await (const f of walk(path.join(root, top))) files.push(f);
}

const options = swcOptions({ sourceMaps: true });
let i = 0;
async function worker() {
  while (i < files.length) {
    const file = files[i++];
    const rel = path.relative(root, file);
    const target = path.join(out, rel.replace(/\.ts$/, '.js'));
    const result = await transformFile(file, {
      ...options,
      swcrc: false,
      filename: file,
      sourceFileName: path.relative(path.dirname(target), file),
      outputPath: target,
    });
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, `${result.code}\n//# sourceMappingURL=${path.basename(target)}.map\n`);
    if (result.map) await writeFile(`${target}.map`, result.map);
  }
}
await Promise.all(Array.from({ length: 8 }, worker));
console.log(`[build] ${files.length} files compiled to dist/ in ${Date.now() - started} ms`);

// The web console (apps/console, ADR 38): a Preact app bundled by Vite into dist/console, which the gateway serves
// at /console. Absent sources (an image without them) or an absent Vite (an install without dev dependencies) skip it;
// the gateway then answers /console with how to build it.
if (existsSync(path.join(root, 'apps', 'console', 'vite.config.mts'))) {
  const consoleStarted = Date.now();
  let vite;
  try {
    vite = await import('vite');
  } catch {
    console.log('[build] vite is not installed (no dev dependencies): the web console is not built');
  }
  if (vite) {
    await vite.build({ configFile: path.join(root, 'apps', 'console', 'vite.config.mts'), logLevel: 'warn' });
    console.log(`[build] web console bundled to dist/console in ${Date.now() - consoleStarted} ms`);
  }
}
