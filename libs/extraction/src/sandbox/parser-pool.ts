import { ErrorCodes, QuarryError, type DetectedType, type ErrorCode } from '@quarry/contracts';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ExtractedPage } from '../types';
import type { ExtractedAttachment, PageImage, ParsedMeta, ParseInput } from '../formats/types';
import type { HostMessage, ParseTask, SerializedFailure } from './protocol';

export interface ParserPoolOptions {
  /** Host processes at most (parses at once); more callers wait for a free one. */
  size: number;
  /** Resident memory of one host (heap, decoded data, native buffers); past it the host is killed. */
  maxMemoryMb: number;
  /** A host is replaced after this many documents, so slow leaks in libraries never accumulate. */
  maxTasksPerHost?: number;
  /** How often a busy host's memory is read. */
  memorySampleMs?: number;
  /**
   * An idle host exits after this long, giving its memory back (the libraries it loaded stay loaded while it
   * lives); the next document starts a fresh one in a few hundred milliseconds. Default 60 s.
   */
  idleTimeoutMs?: number;
  /** Test seam: another host script. */
  hostScript?: string;
}

export interface ParseCallbacks {
  /** Wall-clock limit for the parser, from when a host takes the task until its last result. */
  timeoutMs: number;
  /** Aborting kills the host; the call rejects with the signal's reason. */
  signal?: AbortSignal;
  onPage?: (page: ExtractedPage) => void | Promise<void>;
  onImage?: (image: PageImage) => void | Promise<void>;
  onAttachment?: (attachment: ExtractedAttachment) => void | Promise<void>;
}

const MIB = 1024 * 1024;
// Heap is the part of a host's memory V8 can bound itself; the rest of the budget covers code, decoded buffers and
// native libraries (sharp, zlib), which only the RSS watch bounds.
const HEAP_SHARE = 0.75;
const STDERR_TAIL_CHARS = 4000;
// Starting a host loads every parser library; on a busy two-core machine that has taken seconds.
const START_TIMEOUT_MS = 30_000;

interface Host {
  child: ChildProcess;
  ready: Promise<void>;
  tasks: number;
  stderr: string;
  /** Set while the host runs a task: called with the exit once the process ends. */
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
  onMessage?: (message: HostMessage) => void;
  exited: boolean;
  /** Killed by the pool (deadline, memory, abort) or leaving after a crash: it must not take another document. */
  killed: boolean;
  /** Set while the host waits in the idle list. */
  idleTimer?: NodeJS.Timeout;
}

/**
 * Runs format parsers in child processes ("hosts") with a time and memory limit, so a document that hangs, exhausts
 * or crashes its parser fails with a classified reason (`parser_timeout`, `parser_out_of_memory`, `parser_crashed`)
 * and the worker takes the next message. Hosts are reused between documents (starting one loads every parser
 * library) and replaced after a kill, a crash or `maxTasksPerHost` documents.
 */
export class ParserPool {
  private readonly idle: Host[] = [];
  private readonly waiting: ((host: Host) => void)[] = [];
  private live = 0;
  private nextTaskId = 1;
  private closed = false;

  constructor(private readonly options: ParserPoolOptions) {
    if (!(options.size >= 1) || !(options.maxMemoryMb >= 64)) {
      throw new RangeError('a parser pool needs at least one host and 64 MB per host');
    }
  }

  async run(input: ParseInput, callbacks: ParseCallbacks): Promise<ParsedMeta> {
    callbacks.signal?.throwIfAborted();
    const host = await this.acquire(callbacks.signal);
    try {
      return await this.runOn(host, input, callbacks);
    } finally {
      host.tasks++;
      // A parser that failed cleanly (a corrupt document) leaves its host usable; a killed or crashed one does not.
      if (!host.exited && !host.killed && host.tasks < (this.options.maxTasksPerHost ?? 500))
        this.release(host);
      else this.discard(host);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const hosts = this.idle.splice(0);
    for (const h of hosts) clearTimeout(h.idleTimer);
    await Promise.all(hosts.map((h) => this.stop(h)));
  }

  private runOn(host: Host, input: ParseInput, callbacks: ParseCallbacks): Promise<ParsedMeta> {
    const taskId = this.nextTaskId++;
    const pid = host.child.pid;
    return new Promise<ParsedMeta>((resolve, reject) => {
      let settled = false;
      let delivery: Promise<void> = Promise.resolve();
      let peakRss = 0;
      const finish = (error: Error | undefined, meta?: ParsedMeta): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(sampler);
        callbacks.signal?.removeEventListener('abort', onAbort);
        host.onExit = undefined;
        host.onMessage = undefined;
        if (error === undefined) resolve(meta ?? {});
        else reject(error);
      };
      // Kills the host and settles once it is gone, so no parser outlives the call.
      const kill = (error: Error): void => {
        if (settled) return;
        host.killed = true;
        host.onMessage = undefined;
        host.onExit = () => finish(error);
        host.child.kill('SIGKILL');
      };
      const timer = setTimeout(
        () =>
          kill(
            new QuarryError('parser_timeout', `parsing did not finish within ${callbacks.timeoutMs} ms`, {
              details: { timeoutMs: callbacks.timeoutMs, type: input.type },
            }),
          ),
        callbacks.timeoutMs,
      );
      const onAbort = (): void => kill(asError(callbacks.signal?.reason ?? new Error('aborted')));
      callbacks.signal?.addEventListener('abort', onAbort, { once: true });
      const limitBytes = this.options.maxMemoryMb * MIB;
      const sampler = setInterval(() => {
        if (pid === undefined) return;
        residentBytes(pid).then(
          (rss) => {
            peakRss = Math.max(peakRss, rss ?? 0);
            if (rss !== undefined && rss > limitBytes) {
              kill(
                new QuarryError(
                  'parser_out_of_memory',
                  `the ${input.type} parser used more than ${this.options.maxMemoryMb} MB`,
                  { details: { limitMb: this.options.maxMemoryMb, type: input.type } },
                ),
              );
            }
          },
          // A host that ended between two samples is reported by its exit, not here.
          () => undefined,
        );
      }, this.options.memorySampleMs ?? 50);

      const deliver = (call: () => void | Promise<void>): void => {
        delivery = delivery.then(async () => {
          if (!settled) await call();
        });
        // A failing callback (progress store down, cancellation) ends the parse with its own error.
        delivery.catch((error: unknown) => kill(asError(error)));
      };
      host.onMessage = (message) => {
        if (!('taskId' in message) || message.taskId !== taskId) return;
        switch (message.kind) {
          case 'page':
            if (callbacks.onPage) deliver(() => callbacks.onPage?.(message.page));
            break;
          case 'image':
            if (callbacks.onImage) deliver(() => callbacks.onImage?.(message.image));
            break;
          case 'attachment':
            if (callbacks.onAttachment) deliver(() => callbacks.onAttachment?.(message.attachment));
            break;
          case 'done':
            // Parsing is over: the deadline and the memory watch no longer apply to the callbacks still running.
            clearTimeout(timer);
            clearInterval(sampler);
            delivery.then(
              () => finish(undefined, message.meta),
              (error: unknown) => finish(asError(error)),
            );
            break;
          case 'failed':
            clearTimeout(timer);
            clearInterval(sampler);
            // A host that reports an uncaught exception is on its way out: it must not take another document.
            if (message.failure.name === 'UncaughtException') host.killed = true;
            finish(failureToError(message.failure, input.type));
            break;
        }
      };
      host.onExit = (code, signal) =>
        finish(exitToError(code, signal, host.stderr, input.type, peakRss > 0.9 * limitBytes));
      // Aborted while a host was being found or started: nothing has been sent to it yet.
      if (callbacks.signal?.aborted) {
        onAbort();
        return;
      }
      const task: ParseTask = { kind: 'parse', taskId, input };
      host.child.send(task, (error) => {
        if (error)
          kill(
            new QuarryError('parser_crashed', `could not hand the document to its parser: ${error.message}`),
          );
      });
    });
  }

  private async acquire(signal?: AbortSignal): Promise<Host> {
    if (this.closed) throw new QuarryError('dependency_unavailable', 'the parser pool is shut down');
    const idle = this.idle.pop();
    if (idle) {
      clearTimeout(idle.idleTimer);
      return idle;
    }
    if (this.live < this.options.size) {
      this.live++;
      const host = this.spawn();
      try {
        await host.ready;
        return host;
      } catch (error) {
        this.discard(host);
        throw error;
      }
    }
    return new Promise<Host>((resolve, reject) => {
      const take = (host: Host): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(host);
      };
      const onAbort = (): void => {
        const at = this.waiting.indexOf(take);
        if (at !== -1) this.waiting.splice(at, 1);
        reject(asError(signal?.reason ?? new Error('aborted')));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(take);
    });
  }

  private release(host: Host): void {
    const next = this.waiting.shift();
    if (next) next(host);
    else if (this.closed) void this.stop(host);
    else {
      host.idleTimer = setTimeout(() => this.retire(host), this.options.idleTimeoutMs ?? 60_000);
      host.idleTimer.unref();
      this.idle.push(host);
    }
  }

  /** An idle host that waited too long leaves the pool and exits. */
  private retire(host: Host): void {
    const at = this.idle.indexOf(host);
    if (at === -1) return;
    this.idle.splice(at, 1);
    this.live--;
    void this.stop(host);
  }

  /** A host that was killed or crashed is gone; a waiting caller gets a fresh one. */
  private discard(host: Host): void {
    void this.stop(host);
    this.live--;
    const next = this.waiting.shift();
    if (next === undefined || this.closed) return;
    this.live++;
    const fresh = this.spawn();
    fresh.ready.then(
      () => next(fresh),
      () => {
        // Starting failed: give the slot back and let the waiter try again through a later release.
        this.live--;
        this.waiting.unshift(next);
      },
    );
  }

  private spawn(): Host {
    const script = this.options.hostScript ?? defaultHostScript();
    const heapMb = Math.max(32, Math.floor(this.options.maxMemoryMb * HEAP_SHARE));
    const execArgv = [`--max-old-space-size=${heapMb}`];
    if (script.endsWith('.ts'))
      execArgv.push('--require', path.resolve(__dirname, '../../../../tools/ts-register.cjs'));
    // A temp folder per host: libraries that spill to os.tmpdir() (exceljs writes sheets there) leave nothing behind
    // when the host is killed mid-document, since the folder goes with the host.
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'quarry-parser-'));
    const child = fork(script, [tmp], {
      execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const host: Host = {
      child,
      tasks: 0,
      stderr: '',
      exited: false,
      killed: false,
      ready: Promise.resolve(),
    };
    child.stderr?.on('data', (chunk: Buffer) => {
      host.stderr = (host.stderr + chunk.toString()).slice(-STDERR_TAIL_CHARS);
    });
    host.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(
          new QuarryError('parser_crashed', `the parser host did not start within ${START_TIMEOUT_MS} ms`),
        );
      }, START_TIMEOUT_MS);
      host.onMessage = (message) => {
        if (message.kind !== 'ready') return;
        clearTimeout(timer);
        host.onMessage = undefined;
        resolve();
      };
      host.onExit = (code, signal) => {
        clearTimeout(timer);
        reject(
          new QuarryError(
            'parser_crashed',
            `the parser host exited while starting (${signal ?? `code ${code}`}): ${host.stderr.trim().slice(-500)}`,
          ),
        );
      };
    });
    // The readiness promise is awaited by acquire(); this keeps an early crash from surfacing as unhandled.
    host.ready.catch(() => undefined);
    child.on('message', (message: HostMessage) => host.onMessage?.(message));
    child.on('exit', (code, signal) => {
      rmSync(tmp, { recursive: true, force: true });
      host.exited = true;
      host.onExit?.(code, signal);
    });
    child.on('error', (error) => {
      host.stderr += `\n${error.message}`;
      if (!host.exited) child.kill('SIGKILL');
    });
    return host;
  }

  private stop(host: Host): Promise<void> {
    if (host.exited) return Promise.resolve();
    return new Promise<void>((resolve) => {
      host.child.once('exit', () => resolve());
      host.child.kill('SIGKILL');
    });
  }
}

function defaultHostScript(): string {
  // host.ts under Jest and in-repo tools, host.js once built.
  return path.join(__dirname, `host${path.extname(__filename)}`);
}

/** The resident set of a process, from /proc; undefined where there is no /proc (the time limit still applies). */
async function residentBytes(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const line = status.split('\n').find((l) => l.startsWith('VmRSS:'));
  const kb = line === undefined ? NaN : Number.parseInt(line.slice(6), 10);
  return Number.isFinite(kb) ? kb * 1024 : undefined;
}

/** The code a library's own exception means for this type: the document is not what its format requires. */
export function corruptCode(type: DetectedType): ErrorCode {
  const code = `corrupt_${type}`;
  return code in ErrorCodes ? (code as ErrorCode) : 'parser_crashed';
}

function failureToError(failure: SerializedFailure, type: DetectedType): QuarryError {
  if (failure.code !== undefined) {
    return new QuarryError(
      failure.code,
      failure.message,
      failure.details ? { details: failure.details } : {},
    );
  }
  const cause = Object.assign(new Error(failure.message), { name: failure.name });
  if (failure.name === 'UncaughtException') {
    return new QuarryError('parser_crashed', `the ${type} parser crashed: ${failure.message}`, { cause });
  }
  if (
    failure.name === 'RangeError' &&
    /call stack|invalid array length|allocation failed/i.test(failure.message)
  ) {
    return new QuarryError(
      'parser_out_of_memory',
      `the ${type} parser ran out of resources: ${failure.message}`,
      {
        cause,
      },
    );
  }
  // A library that throws on a document it cannot read is the common case: the document is not valid of its kind.
  return new QuarryError(corruptCode(type), `the ${type} document could not be read: ${failure.message}`, {
    cause,
  });
}

function exitToError(
  code: number | null,
  signal: NodeJS.Signals | null,
  stderr: string,
  type: DetectedType,
  nearMemoryLimit: boolean,
): QuarryError {
  const tail = stderr.trim().slice(-1000);
  // V8 aborts the process when the heap limit is reached ("Reached heap limit … JavaScript heap out of memory").
  if (/heap out of memory|Reached heap limit|allocation failed/i.test(stderr) || nearMemoryLimit) {
    return new QuarryError('parser_out_of_memory', `the ${type} parser ran out of memory`, {
      details: { exit: signal ?? code, output: tail },
    });
  }
  return new QuarryError(
    'parser_crashed',
    `the ${type} parser exited unexpectedly (${signal ?? `code ${code}`})`,
    {
      details: { exit: signal ?? code, output: tail },
    },
  );
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
