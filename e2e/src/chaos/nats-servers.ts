import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort, waitFor } from '@quarry/testing';
import { track, untrack } from './reaper';

const NATS_SERVER = '/usr/sbin/nats-server';

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** One nats-server process with JetStream, its config and store in the run dir. */
export class NatsNode {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  constructor(
    private readonly runDir: string,
    readonly name: string,
    readonly port: number,
    private readonly configFile: string,
    private readonly logFile: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the server on its port and store dir (the same ones again after a stop or a kill). */
  async start(): Promise<void> {
    if (this.running) return;
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(NATS_SERVER, ['-c', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    this.child = child;
    if (child.pid !== undefined) track(this.runDir, child.pid, this.configFile, 'SIGKILL');
    await waitFor(async () => !this.running || (await accepting(this.port)), {
      timeoutMs: 30_000,
      description: `nats-server ${this.name} accepting on ${this.port}`,
    });
    if (!this.running) throw new Error(`nats-server ${this.name} exited at start; see ${this.logFile}`);
  }

  /** SIGTERM: a clean shutdown that flushes the store, as a service manager's restart does. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** SIGKILL: the node vanishes (a crash, a lost machine). */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    if (!this.running) return;
    const pid = this.child?.pid;
    this.child?.kill(signal);
    await this.exited;
    if (pid !== undefined) untrack(this.runDir, pid);
  }
}

/**
 * NATS servers of the suite's own on free loopback ports: one node, or a three-node JetStream cluster
 * whose streams are replicated (R3), so one node can die without losing a message.
 */
export class NatsServers {
  private constructor(readonly nodes: NatsNode[]) {}

  static async start(runDir: string, size: 1 | 3): Promise<NatsServers> {
    const ports = await Promise.all(
      Array.from({ length: size }, async () => ({ client: await freePort(), cluster: await freePort() })),
    );
    const nodes = ports.map((p, i) => {
      const name = `n${i + 1}`;
      const dir = path.join(runDir, 'nats', name);
      mkdirSync(path.join(dir, 'store'), { recursive: true });
      const lines = [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${p.client}`,
        `jetstream { store_dir: "${path.join(dir, 'store')}" }`,
      ];
      if (size > 1) {
        const routes = ports.filter((_, j) => j !== i).map((o) => `nats://127.0.0.1:${o.cluster}`);
        lines.push(`cluster { name: chaos, listen: 127.0.0.1:${p.cluster}, routes: [${routes.join(', ')}] }`);
      }
      const configFile = path.join(dir, 'nats.conf');
      writeFileSync(configFile, `${lines.join('\n')}\n`);
      return new NatsNode(runDir, name, p.client, configFile, path.join(dir, 'nats.log'));
    });
    const servers = new NatsServers(nodes);
    await Promise.all(nodes.map((n) => n.start()));
    return servers;
  }

  /** What the apps get as NATS_URL: every node, so a client moves to another when its node dies. */
  get url(): string {
    return this.nodes.map((n) => n.url).join(',');
  }

  node(name: string): NatsNode {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no NATS node ${name}`);
    return node;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
  }
}
