import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { finished, Readable, Writable } from 'node:stream';
import type { StartedTool } from './run-tool';
import type { LauncherReply, LauncherRequest } from './tool-launcher-protocol';

/**
 * Starts native tools from a small process of its own (tool-launcher-host.ts) instead of from the worker. On Linux
 * Node starts a process by fork + exec, and fork copies the page tables of the process that forks: from an ingest
 * worker (a database client, its WebAssembly query compiler, the messaging client) that cost 8 ms of CPU and 13 ms
 * with the event loop blocked for every pdftotext, measured here — a third of the worker's CPU on text-layer PDFs,
 * where pdftotext itself takes 75 ms for 50 pages. From the launcher it costs what starting from a bare Node does.
 *
 * Each tool comes back as a `StartedTool` that behaves as Node's ChildProcess does for `runTool`: its pid (for the
 * memory watch and kills, which go straight to the process), stdout with backpressure (a paused consumer pauses
 * the tool), stderr, stdin, and 'error', 'exit' and 'close' — the last once all output has been read. The launcher
 * starts on the first tool and is started again after it dies; tools running in it when it dies are killed and
 * fail with an ELAUNCHER error, which `runTool` reports as `dependency_unavailable` (a retry).
 */
export class ToolLauncher {
  private host: ChildProcess | undefined;
  private readonly running = new Map<number, LaunchedTool>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly hostScript: string = defaultHostScript()) {}

  spawn(command: string, args: readonly string[], env: Record<string, string> | undefined): StartedTool {
    const id = this.nextId++;
    const tool = new LaunchedTool(id, (message) => this.send(message));
    if (this.closed) {
      queueMicrotask(() => tool.fail('ELAUNCHER', 'the tool launcher is shut down'));
      return tool;
    }
    this.running.set(id, tool);
    tool.once('close', () => this.running.delete(id));
    this.send({ op: 'spawn', id, command, args: [...args], env });
    return tool;
  }

  /** Stops the launcher; tools still running are killed with it. */
  async close(): Promise<void> {
    this.closed = true;
    const host = this.host;
    this.host = undefined;
    if (!host || host.exitCode !== null || host.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      host.once('exit', () => resolve());
      // Disconnecting makes the launcher kill its tools and exit (tool-launcher-host.ts).
      host.disconnect();
    });
  }

  private send(message: LauncherRequest): void {
    const host = this.started();
    host.send(message);
  }

  private started(): ChildProcess {
    if (this.host && this.host.connected) return this.host;
    const host = fork(this.hostScript, [], {
      // Nothing of the worker's flags (heap size, profilers, loaders): the point is a small process.
      execArgv: [],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    host.on('message', (message: LauncherReply) => this.running.get(message.id)?.receive(message));
    host.on('exit', () => {
      if (this.host === host) this.host = undefined;
      // Its tools were its children: kill any that outlived it, and fail their calls.
      for (const tool of this.running.values()) tool.fail('ELAUNCHER', 'the tool launcher exited');
    });
    // A send racing the launcher's death fails here; the 'exit' handler above fails the tools it concerned.
    host.on('error', () => undefined);
    this.host = host;
    return host;
  }
}

/** A tool started by the launcher, as `runTool` sees a child process. */
class LaunchedTool extends EventEmitter implements StartedTool {
  pid?: number | undefined;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly stdin: Writable;
  private paused = false;
  private ended = false;
  private killRequested = false;

  constructor(
    private readonly id: number,
    private readonly send: (message: LauncherRequest) => void,
  ) {
    super();
    this.stdout = new Readable({
      read: () => {
        if (!this.paused) return;
        this.paused = false;
        this.post({ op: 'resume', id });
      },
    });
    this.stderr = new Readable({ read: () => undefined });
    this.stdin = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.post({ op: 'stdin', id, data: chunk });
        done();
      },
      final: (done) => {
        this.post({ op: 'stdin', id, data: null });
        done();
      },
    });
  }

  kill(): boolean {
    if (this.pid !== undefined) killProcess(this.pid);
    else if (!this.killRequested) {
      this.killRequested = true;
      this.post({ op: 'kill', id: this.id });
    }
    return true;
  }

  receive(message: LauncherReply): void {
    switch (message.op) {
      case 'spawned':
        this.pid = message.pid;
        this.emit('spawn');
        return;
      case 'error':
        this.emit('error', Object.assign(new Error(message.message), { code: message.code ?? undefined }));
        return;
      case 'stdout':
        if (!this.stdout.push(asBuffer(message.data)) && !this.paused) {
          this.paused = true;
          this.post({ op: 'pause', id: this.id });
        }
        return;
      case 'stderr':
        this.stderr.push(asBuffer(message.data));
        return;
      case 'exit':
        this.emit('exit', message.code, message.signal);
        return;
      case 'close':
        this.end(message.code, message.signal);
        return;
    }
  }

  /** The launcher died under this tool: kill it if it still runs, and fail the call. */
  fail(code: string, reason: string): void {
    if (this.ended) return;
    if (this.pid !== undefined) killProcess(this.pid);
    this.emit('error', Object.assign(new Error(reason), { code }));
    this.end(null, 'SIGKILL');
  }

  /** 'close' once everything the tool wrote has been read (or the reader gave up), as ChildProcess does. */
  private end(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.ended) return;
    this.ended = true;
    this.stdout.push(null);
    this.stderr.push(null);
    const drained = (stream: Readable) =>
      new Promise<void>((resolve) => {
        if (stream.destroyed || stream.readableEnded) resolve();
        else finished(stream, () => resolve());
      });
    void Promise.all([drained(this.stdout), drained(this.stderr)]).then(() =>
      this.emit('close', code, signal),
    );
  }

  private post(message: LauncherRequest): void {
    if (this.ended) return;
    this.send(message);
  }
}

/** SIGKILL to a tool by its pid; one already gone (its 'close' is on the way) is no error. */
function killProcess(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** A chunk as it crossed IPC (structured clone gives a Uint8Array), viewed as a Buffer without a copy. */
function asBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function defaultHostScript(): string {
  // tool-launcher-host.ts under Jest and in-repo tools (Node strips its types), .js once built.
  return path.join(__dirname, `tool-launcher-host${path.extname(__filename)}`);
}
