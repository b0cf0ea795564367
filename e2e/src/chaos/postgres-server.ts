import { execFile } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@quarry/testing';
import { track, untrack } from './reaper';

const run = promisify(execFile);
const PG_BIN = '/usr/lib/postgresql/15/bin';
/** PostgreSQL refuses to run as root, and the suite runs as root on the test machines. */
const PG_USER = 'postgres';

function ownerIds(user: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error(`no user ${user} on this machine`);
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * A PostgreSQL instance of the suite's own (initdb into the run dir, trust auth, loopback only, a free
 * port), so it can be stopped and restarted mid-run without touching the machine's shared server.
 */
export class PostgresServer {
  private postmasterPid: number | undefined;

  private constructor(
    private readonly runDir: string,
    readonly port: number,
    private readonly dataDir: string,
    private readonly socketDir: string,
    private readonly logFile: string,
  ) {}

  static async start(runDir: string): Promise<PostgresServer> {
    const asRoot = process.getuid?.() === 0;
    // As root the server runs as the postgres user, who may not be able to traverse the checkout (a
    // clone under a private mktemp directory, say): its files then live under the system temp
    // directory, linked from the run directory so logs are found in the usual place.
    const base = asRoot ? mkdtempSync(path.join(tmpdir(), 'quarry-chaos-pg-')) : path.join(runDir, 'pg');
    if (asRoot) {
      chmodSync(base, 0o755);
      symlinkSync(base, path.join(runDir, 'pg'));
    }
    const dataDir = path.join(base, 'data');
    const socketDir = path.join(base, 'sock');
    mkdirSync(dataDir, { recursive: true });
    mkdirSync(socketDir, { recursive: true });
    if (asRoot) {
      const { uid, gid } = ownerIds(PG_USER);
      for (const dir of [base, dataDir, socketDir]) chownSync(dir, uid, gid);
    }
    const server = new PostgresServer(
      runDir,
      await freePort(),
      dataDir,
      socketDir,
      path.join(base, 'postgres.log'),
    );
    // The log file sits in a directory the postgres user owns, so pg_ctl can append to it.
    await server.pg('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
    await server.startServer();
    return server;
  }

  /** Connection URL of a database on this server. */
  url(database = 'postgres'): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** A fast shutdown, as an operator's restart does: sessions are terminated, clients see errors. */
  async stop(): Promise<void> {
    await this.pg('pg_ctl', ['-D', this.dataDir, '-w', '-m', 'fast', 'stop']);
    if (this.postmasterPid !== undefined) untrack(this.runDir, this.postmasterPid);
    this.postmasterPid = undefined;
  }

  async start(): Promise<void> {
    await this.startServer();
  }

  get running(): boolean {
    return this.postmasterPid !== undefined;
  }

  private async startServer(): Promise<void> {
    const options = [
      '-c listen_addresses=127.0.0.1',
      `-p ${this.port}`,
      `-k ${this.socketDir}`,
      '-c max_connections=200',
      '-c shared_buffers=64MB',
      // The data is thrown away after the run; fsync would only make the suite slower.
      '-c fsync=off',
      '-c full_page_writes=off',
    ].join(' ');
    await this.pg('pg_ctl', [
      '-D',
      this.dataDir,
      '-l',
      this.logFile,
      '-w',
      '-t',
      '60',
      '-o',
      options,
      'start',
    ]);
    const pid = Number(readFileSync(path.join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    this.postmasterPid = pid;
    // SIGQUIT is the postmaster's immediate shutdown: it takes its backends with it.
    track(this.runDir, pid, this.dataDir, 'SIGQUIT');
  }

  /** Deletes the server's files (data, socket, log) wherever they live. */
  removeFiles(): void {
    rmSync(path.dirname(this.dataDir), { recursive: true, force: true });
  }

  private async pg(tool: string, args: string[]): Promise<void> {
    const binary = path.join(PG_BIN, tool);
    const asRoot = process.getuid?.() === 0;
    const [file, argv] = asRoot ? ['runuser', ['-u', PG_USER, '--', binary, ...args]] : [binary, args];
    try {
      await run(file, argv, { timeout: 90_000, cwd: path.dirname(this.dataDir) });
    } catch (error) {
      const tail = (() => {
        try {
          return statSync(this.logFile).isFile() ? readFileSync(this.logFile, 'utf8').slice(-2000) : '';
        } catch {
          return '(no server log)';
        }
      })();
      throw new Error(`${tool} ${args.join(' ')} failed: ${String(error)}\n${tail}`);
    }
  }
}
