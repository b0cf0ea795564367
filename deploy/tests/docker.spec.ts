import { existsSync } from 'node:fs';
import path from 'node:path';
import { APPS, composeServices, deployPath, readText, REPO_ROOT } from './deploy-files';

/** One build stage of a Dockerfile: its name, base and instructions (continuation lines joined). */
interface Stage {
  name: string;
  from: string;
  instructions: { op: string; args: string }[];
}

function stages(dockerfile: string): Stage[] {
  const lines = dockerfile
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const result: Stage[] = [];
  for (const line of lines) {
    const [op = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      result.push({ name: m?.[2] ?? String(result.length), from: m?.[1] ?? '', instructions: [] });
    } else if (result.length > 0) {
      result.at(-1)!.instructions.push({ op: op.toUpperCase(), args });
    }
  }
  return result;
}

/**
 * Whether .dockerignore keeps `file` out of the build context: the last matching pattern wins, `!`
 * re-includes, a pattern matching a folder excludes what is inside it (Docker's rules, simplified to
 * what this repository's .dockerignore uses).
 */
function ignoredByDockerignore(patterns: string[], file: string): boolean {
  const toRegex = (p: string) => {
    const body = p
      .replace(/^\/+|\/+$/g, '')
      .split(/(\*\*\/|\*\*|\*|\?)/)
      .map((token) => {
        if (token === '**/') return '(?:.*/)?';
        if (token === '**') return '.*';
        if (token === '*') return '[^/]*';
        if (token === '?') return '[^/]';
        return token.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      })
      .join('');
    return new RegExp(`^${body}(/.*)?$`);
  };
  let ignored = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (toRegex(pattern).test(file)) ignored = !negated;
  }
  return ignored;
}

const dockerfile = stages(readText(deployPath('docker', 'Dockerfile')));
const dockerignore = readText(path.join(REPO_ROOT, '.dockerignore'))
  .split(/\r?\n/)
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const entrypoint = readText(deployPath('docker', 'entrypoint.sh'));
const stage = (name: string): Stage => {
  const found = dockerfile.find((s) => s.name === name);
  if (!found) throw new Error(`the Dockerfile has no stage "${name}"`);
  return found;
};
const runs = (s: Stage) => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
/** `COPY --from=<stage> <src> <dest>`: which stage a runtime path comes from. */
const copiesFrom = (s: Stage) =>
  s.instructions
    .filter((i) => i.op === 'COPY')
    .map((i) => /--from=(\S+)\s+(\S+)\s+(\S+)/.exec(i.args))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ from: m[1]!, source: m[2]!, target: m[3]! }));

describe('deploy/docker/Dockerfile', () => {
  const runtime = dockerfile.at(-1)!;

  it('is multi-stage: dependencies, build, production dependencies, runtime', () => {
    expect(dockerfile.map((s) => s.name)).toEqual(['manifests', 'deps', 'build', 'prod-deps', 'runtime']);
    expect(runtime.name).toBe('runtime');
  });

  it('builds with Node 24 on a glibc base', () => {
    const arg = readText(deployPath('docker', 'Dockerfile')).match(/^ARG NODE_IMAGE=(\S+)$/m)?.[1];
    expect(arg).toMatch(/^node:24-(bookworm|trixie)(-slim)?$/);
    for (const s of dockerfile) expect(s.from).toMatch(/^(\$\{NODE_IMAGE\}|deps)$/);
  });

  it('generates the Prisma client and compiles with the repository build script', () => {
    const build = runs(stage('build')).join(' && ');
    expect(build).toMatch(/prisma generate/);
    expect(build).toMatch(/node scripts\/build\.mjs/);
    expect(runs(stage('deps')).join(' ')).toMatch(/npm ci(?! .*--omit)/);
  });

  it('the runtime has production dependencies only, the compiled apps and the migrations', () => {
    expect(runs(stage('prod-deps')).join(' ')).toMatch(/npm ci --omit=dev/);
    const copies = copiesFrom(runtime);
    expect(copies).toEqual(
      expect.arrayContaining([
        { from: 'prod-deps', source: '/app/node_modules', target: './node_modules' },
        { from: 'build', source: '/app/dist', target: './dist' },
      ]),
    );
    expect(copies.some((c) => c.from === 'deps')).toBe(false);
    expect(runtime.instructions.some((i) => i.op === 'COPY' && /^prisma\/migrations\s/.test(i.args))).toBe(
      true,
    );
    // Its only RUN installs the native OCR and PDF tools, as root, before USER.
    const installs = runs(runtime);
    expect(installs).toHaveLength(1);
    expect(installs[0]).toMatch(/apt-get install -y --no-install-recommends tesseract-ocr poppler-utils/);
    expect(installs[0]).toMatch(/tesseract-ocr-&/);
    expect(installs[0]).toMatch(/rm -rf \/var\/lib\/apt\/lists/);
    const order = runtime.instructions.map((i) => i.op);
    expect(order.indexOf('RUN')).toBeLessThan(order.indexOf('USER'));
  });

  it('runs as a non-root user with NODE_ENV=production', () => {
    const users = runtime.instructions.filter((i) => i.op === 'USER').map((i) => i.args);
    expect(users).toHaveLength(1);
    expect(users[0]).not.toMatch(/^(root|0)(:|$)/);
    expect(runtime.instructions).toContainEqual({ op: 'ENV', args: 'NODE_ENV=production' });
  });

  it('the entry point runs every app and ops from dist/, and each exists in the source tree', () => {
    const named = /^\s*gateway \| ingest-worker \| analysis-worker \| ops\)$/m;
    expect(entrypoint).toMatch(named);
    expect(entrypoint).toContain('--enable-source-maps "dist/apps/$app/src/main.js" "$@"');
    // Each app's Node flags come from its package.json, which the runtime image carries.
    expect(entrypoint).toContain(`require('./apps/$app/package.json').quarry?.nodeFlags`);
    expect(copiesFrom(runtime)).toContainEqual({
      from: 'manifests',
      source: '/manifests/apps',
      target: './apps',
    });
    for (const app of [...APPS, 'ops']) {
      expect(existsSync(path.join(REPO_ROOT, 'apps', app, 'src', 'main.ts'))).toBe(true);
    }
    const entry = runtime.instructions.find((i) => i.op === 'ENTRYPOINT')?.args;
    expect(entry).toBe('["/usr/local/bin/quarry"]');
    expect(runtime.instructions).toContainEqual({
      op: 'COPY',
      args: '--chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/quarry',
    });
  });

  it('every compose command is one the entry point understands', () => {
    const services = composeServices('compose.yaml');
    const image = services.get('gateway')!.image;
    for (const s of [...services.values()].filter((s) => s.image === image)) {
      expect([...APPS, 'ops']).toContain(s.command[0]);
    }
  });
});

describe('.dockerignore', () => {
  it('keeps everything the image is built from in the build context', () => {
    const needed = [
      'package.json',
      'package-lock.json',
      '.npmrc',
      'tsconfig.base.json',
      'tsconfig.json',
      'prisma.config.ts',
      'prisma/schema.prisma',
      'prisma/migrations/migration_lock.toml',
      'tools/swc-options.cjs',
      'scripts/build.mjs',
      'apps/gateway/src/main.ts',
      'libs/config/src/config.ts',
      'bench/package.json',
      'e2e/package.json',
      'deploy/docker/entrypoint.sh',
    ];
    for (const file of needed) {
      expect(existsSync(path.join(REPO_ROOT, file))).toBe(true);
      expect({ file, ignored: ignoredByDockerignore(dockerignore, file) }).toEqual({ file, ignored: false });
    }
  });

  it('leaves out installed dependencies, build output, tests and local state', () => {
    for (const file of [
      'node_modules/zod/package.json',
      'libs/config/node_modules/x',
      'dist/apps/gateway/src/main.js',
      '.git/HEAD',
      'tmp/jest/unit.json',
      'libs/persistence/src/generated/prisma/client.ts',
      'libs/config/src/config.spec.ts',
      'e2e/src/upload.e2e-spec.ts',
      'docs/architecture.md',
    ]) {
      expect({ file, ignored: ignoredByDockerignore(dockerignore, file) }).toEqual({ file, ignored: true });
    }
  });

  it('the matcher follows Docker: last match wins, ! re-includes', () => {
    expect(ignoredByDockerignore(['e2e/*', '!e2e/package.json'], 'e2e/package.json')).toBe(false);
    expect(ignoredByDockerignore(['e2e/*', '!e2e/package.json'], 'e2e/src/a.ts')).toBe(true);
    expect(ignoredByDockerignore(['**/*.spec.ts'], 'apps/gateway/src/a.spec.ts')).toBe(true);
    expect(ignoredByDockerignore(['docs'], 'docsy/x')).toBe(false);
    expect(ignoredByDockerignore(['**/node_modules'], 'node_modules/a')).toBe(true);
    expect(ignoredByDockerignore(['**/node_modules'], 'libs/x/node_modules/a')).toBe(true);
  });
});
