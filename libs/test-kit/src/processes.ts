import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** The repository root: the nearest folder up with nx.json (from the sources and from dist/ alike). */
export const REPO_ROOT = findRepoRoot(__dirname);

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'nx.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no nx.json above ${from}`);
  }
}

export type AppName = 'gateway' | 'ingest-worker' | 'analysis-worker';

/**
 * The Node flags an app asks for in its package.json (`quarry.nodeFlags`): every launcher (`npm start`, the image's
 * entry point, these test processes) starts the app with them, so tests and benches run it as users do.
 */
export function appNodeFlags(app: AppName): string[] {
  const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'apps', app, 'package.json'), 'utf8')) as {
    quarry?: { nodeFlags?: string[] };
  };
  return manifest.quarry?.nodeFlags ?? [];
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * One of Quarry's apps as a real separate process, started from the build in dist/ exactly as
 * `npm start` runs it, logging to a file under tmp/ for post-mortems.
 */
export class AppProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;
  readonly logFile: string;

  constructor(
    readonly app: AppName,
    private readonly env: Record<string, string>,
    logDir: string,
    /**
     * `args`: extra arguments after the entry point (the chaos suite tags its processes with its run dir).
     * `entry`: another script to run instead of the app's built main.js, relative to the repository.
     */
    private readonly options: { args?: string[]; entry?: string } = {},
  ) {
    mkdirSync(logDir, { recursive: true });
    this.logFile = path.join(logDir, `${app}.log`);
  }

  start(): void {
    const entry = path.join(REPO_ROOT, this.options.entry ?? path.join('dist/apps', this.app, 'src/main.js'));
    if (!existsSync(entry))
      throw new Error(`${entry} is missing: run 'node scripts/build.mjs' (npm test does)`);
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const flags = this.options.entry === undefined ? appNodeFlags(this.app) : [];
    const child = spawn(
      process.execPath,
      [...flags, '--enable-source-maps', entry, ...(this.options.args ?? [])],
      {
        cwd: REPO_ROOT,
        env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...this.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    this.child = child;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL: no shutdown hooks, no acks, no naks — what a crash or an OOM kill looks like. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM and wait for the exit, however long it takes; resolves with the exit code. */
  async terminate(): Promise<number | null> {
    if (!this.running) return this.child?.exitCode ?? null;
    this.child?.kill('SIGTERM');
    return (await this.exited) ?? null;
  }

  async stop(timeoutMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}
