import { freePort, REPO_ROOT, waitFor, withClient } from '@quarry/testing';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

// `npm start` on a machine where nothing answers at DATABASE_URL / NATS_URL (ADR 36): pointed at free local ports
// with a data folder of the test's own, it starts PostgreSQL (with pgvector) and NATS there, and the apps serve an
// upload with the development key; `--demo` loads the samples and prints a search. The machine's shared servers
// (5432, 4222) answer before and after, and `npm run stop:services` stops only what this start started.
//
// The test runs what `npm start` runs once dependencies are installed and dist/ is built (which the e2e tier needs
// anyway): scripts/ensure-services.sh, `ops setup`, then scripts/start.mjs. Running all of scripts/ensure.sh here
// would rebuild dist/ under the other suites and could run `npm ci` in a working tree whose lock file is changing.

const DEV_KEY = 'quarry-dev-key-change-me';
const execFileAsync = promisify(execFile);

function answers(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(2000);
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** A process still alive (signal 0 only asks). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function pidFrom(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

describe('npm start with no PostgreSQL or NATS where it points', () => {
  let dataDir: string;
  let env: Record<string, string>;
  const ports = { pg: 0, nats: 0, http: 0 };
  let start: ChildProcess | undefined;
  let startExited: Promise<unknown> = Promise.resolve();
  let output = '';
  let servicesOutput = '';
  const logDir = path.join(REPO_ROOT, 'tmp/e2e/npm-start');

  const run = (args: string[], extraEnv: Record<string, string> = {}) =>
    execFileAsync(args[0]!, args.slice(1), {
      cwd: REPO_ROOT,
      env: { ...env, ...extraEnv },
      timeout: 120_000,
    });
  const baseUrl = () => `http://127.0.0.1:${ports.http}`;

  async function stopStart(): Promise<void> {
    if (!start || start.exitCode !== null || start.signalCode !== null) return;
    // Ctrl-C's counterpart: start.mjs stops its apps and exits; the group kill only mops up after a hang.
    start.kill('SIGTERM');
    const timer = setTimeout(() => {
      try {
        if (start?.pid) process.kill(-start.pid, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    }, 20_000);
    await startExited;
    clearTimeout(timer);
  }

  beforeAll(async () => {
    // The postgres user runs PostgreSQL and must reach the folder: mkdtemp makes it 0700.
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'quarry-npm-start-'));
    await chmod(dataDir, 0o755);
    mkdirSync(logDir, { recursive: true });
    ports.pg = await freePort();
    ports.nats = await freePort();
    ports.http = await freePort();
    env = {
      PATH: `${path.join(REPO_ROOT, 'node_modules/.bin')}:${process.env['PATH'] ?? ''}`,
      HOME: process.env['HOME'] ?? '',
      DATABASE_URL: `postgres://postgres@127.0.0.1:${ports.pg}/quarry`,
      NATS_URL: `nats://127.0.0.1:${ports.nats}`,
      QUARRY_DATA_DIR: dataDir,
      PORT: String(ports.http),
      METRICS_PORT: '0',
      LOG_PRETTY: 'false',
    };
  });

  afterAll(async () => {
    // Whatever happened above: the apps, then this test's servers (by their data folder), then the folder.
    await stopStart();
    if (dataDir) {
      await run(['bash', 'scripts/stop-services.sh']).catch(() => undefined);
      for (const pid of [
        pidFrom(path.join(dataDir, 'postgres/postmaster.pid')),
        pidFrom(path.join(dataDir, 'nats.pid')),
      ])
        if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("leaves the machine's own servers alone when they answer", async () => {
    expect(await answers(5432)).toBe(true);
    expect(await answers(4222)).toBe(true);
    const sharedDir = path.join(dataDir, 'unused');
    const { stdout, stderr } = await run(['bash', 'scripts/ensure-services.sh'], {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/quarry',
      NATS_URL: 'nats://127.0.0.1:4222',
      QUARRY_DATA_DIR: sharedDir,
    });
    expect(stdout + stderr).toBe('');
    expect(existsSync(sharedDir)).toBe(false);
  });

  it('starts PostgreSQL with pgvector and NATS of its own in the data folder, and says how to stop them', async () => {
    expect(await answers(ports.pg)).toBe(false);
    expect(await answers(ports.nats)).toBe(false);

    servicesOutput = (await run(['bash', 'scripts/ensure-services.sh'])).stdout;
    expect(servicesOutput).toContain(`starting PostgreSQL`);
    expect(servicesOutput).toContain(`on 127.0.0.1:${ports.pg}`);
    expect(servicesOutput).toContain(`starting NATS with JetStream`);
    expect(servicesOutput).toContain(`QUARRY_DATA_DIR=${dataDir} npm run stop:services`);
    expect(await answers(ports.pg)).toBe(true);
    expect(await answers(ports.nats)).toBe(true);
    expect(pidFrom(path.join(dataDir, 'postgres/postmaster.pid'))).toBeDefined();
    expect(pidFrom(path.join(dataDir, 'nats.pid'))).toBeDefined();
    expect(await readdir(dataDir)).toEqual(
      expect.arrayContaining(['postgres', 'nats', 'postgres.log', 'nats.log']),
    );

    // A second start finds them answering and does nothing.
    expect((await run(['bash', 'scripts/ensure-services.sh'])).stdout).toBe('');

    // Migrations create the database named in DATABASE_URL and the vector extension; JetStream is provisioned.
    await run(['node', 'dist/apps/ops/src/main.js', 'setup']);
    const ext = await withClient(env['DATABASE_URL']!, (c) =>
      c.query<{ extversion: string }>(`SELECT extversion FROM pg_extension WHERE extname = 'vector'`),
    );
    expect(ext.rows).toHaveLength(1);
  });

  it('--demo uploads the samples and prints a search to try with its answer', async () => {
    const log = createWriteStream(path.join(logDir, 'start.log'));
    const child = spawn(process.execPath, ['scripts/start.mjs', '--demo'], {
      cwd: REPO_ROOT,
      env,
      detached: true, // a group of its own, for the mop-up kill
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    start = child;
    startExited = new Promise((resolve) => child.on('exit', resolve));
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        log.write(chunk);
      });
    }

    await waitFor(() => output.includes(`Quarry is up at ${baseUrl()}`), {
      timeoutMs: 60_000,
      intervalMs: 200,
      description: 'Quarry is up',
    });
    await waitFor(() => /\[demo\]\S* done/.test(output) || /demo: /.test(output), {
      timeoutMs: 90_000,
      intervalMs: 200,
      description: 'the demo to finish',
    });
    expect(output).not.toMatch(/demo: /); // its error line
    expect(output).toMatch(/job \S+ succeeded: arctic-tern\.md indexed, iceland-volcanoes\.pdf indexed/);
    expect(output).toContain(`curl -s -H "Authorization: Bearer ${DEV_KEY}"`);
    expect(output).toContain(`${baseUrl()}/v1/search`);
    expect(output).toMatch(/It answered:\n {2}1\. arctic-tern\.md \(page 1/);
  }, 150_000);

  it('serves an upload with the development key', async () => {
    const form = new FormData();
    form.append(
      'files',
      new Blob(['Basalt columns form when a thick lava flow cools and cracks.'], { type: 'text/plain' }),
      'basalt.txt',
    );
    const auth = { authorization: `Bearer ${DEV_KEY}` };
    const upload = await fetch(`${baseUrl()}/v1/documents`, { method: 'POST', headers: auth, body: form });
    expect(upload.status).toBe(202);
    const { id } = (await upload.json()) as { id: string };
    const job = await waitFor(
      async () => {
        const body = (await (await fetch(`${baseUrl()}/v1/jobs/${id}`, { headers: auth })).json()) as {
          status: string;
        };
        return ['succeeded', 'completed_with_failures', 'failed', 'cancelled'].includes(body.status)
          ? body
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, description: `job ${id} finished` },
    );
    expect(job.status).toBe('succeeded');
  });

  it("npm run stop:services stops what this start started, and the machine's servers still answer", async () => {
    await stopStart();
    const { stdout } = await run(['bash', 'scripts/stop-services.sh']);
    expect(stdout).toContain('stopped PostgreSQL');
    expect(stdout).toContain('stopped NATS');
    expect(await answers(ports.pg)).toBe(false);
    expect(await answers(ports.nats)).toBe(false);
    expect(await answers(5432)).toBe(true);
    expect(await answers(4222)).toBe(true);
  });
});
