import { QuarryError } from '@quarry/contracts';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { abortReason } from './abort-reason';

export interface ToolFailure {
  /** The tool's exit code; null when it died of a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The end of what the tool wrote to stderr. */
  stderr: string;
}

export interface RunToolOptions {
  /** Wall-clock limit: the tool is killed (SIGKILL) when it passes, and the call fails with `parser_timeout`. */
  timeoutMs: number;
  /**
   * Peak resident memory of the tool, in MiB: past it the tool is killed and the call fails with
   * `parser_out_of_memory`. Sampled from /proc, so it holds on Linux only; elsewhere only the time limit applies.
   */
  maxMemoryMb?: number;
  /** Bytes of stdout kept when no `onStdout` consumes it; more fails the call (default 32 MiB). */
  maxStdoutBytes?: number;
  /** Characters of stderr kept (its tail), for failures and for `mapFailure` (default 8000). */
  maxStderrChars?: number;
  /** Written to the tool's stdin, which is then closed (otherwise it is closed at once). */
  stdin?: Uint8Array;
  /** Added to the inherited environment (e.g. OMP_THREAD_LIMIT for tesseract). */
  env?: Record<string, string>;
  /** Aborting kills the tool and rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Receives stdout as it arrives instead of buffering it. While a returned promise is pending the pipe is paused,
   * so a slow consumer slows the tool down instead of filling memory; a throw (or rejection) kills the tool and
   * fails the call with that error.
   */
  onStdout?: (chunk: Buffer) => void | Promise<void>;
  /** Exit codes that count as success (default [0]). */
  okExitCodes?: readonly number[];
  /**
   * Turns an unsuccessful exit into the error the tool's output means (a password-protected PDF, an unreadable
   * image); returning undefined makes it `parser_crashed`.
   */
  mapFailure?: (failure: ToolFailure) => Error | undefined;
}

export interface ToolResult {
  exitCode: number;
  /** Empty when `onStdout` consumed the output. */
  stdout: Buffer;
  stderr: string;
  /** The tool's peak resident memory (VmHWM) at the last sample, in bytes; 0 where it cannot be read. */
  peakRssBytes: number;
  durationMs: number;
}

/** What `runTool` needs of a started tool: Node's ChildProcess, or one that `ToolLauncher` started. */
export interface StartedTool {
  /** Known once the tool has started (a launched tool's pid arrives a moment later). */
  readonly pid?: number | undefined;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly stdin: Writable;
  kill(signal?: NodeJS.Signals): boolean;
  on(event: 'error', listener: (error: NodeJS.ErrnoException) => void): this;
  on(event: 'exit' | 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
}

/** Starts a tool with the worker's environment plus `env`. */
export type ToolSpawner = (
  command: string,
  args: readonly string[],
  env: Record<string, string> | undefined,
) => StartedTool;

const spawnDirectly: ToolSpawner = (command, args, env) =>
  spawn(command, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    // The child inherits the parent's environment plus a tool's own knobs: passing the environment on is not
    // reading configuration, which is what the rule guards against.
    // eslint-disable-next-line no-restricted-syntax
    env: env === undefined ? undefined : { ...process.env, ...env },
    windowsHide: true,
  });

let spawner: ToolSpawner = spawnDirectly;

/**
 * Where every `runTool` in this process starts its tools: a `ToolLauncher`'s `spawn` (what the ingest worker
 * installs at boot), or, without one, this process itself. One setting per process, because the tools are
 * started deep inside parsers and OCR engines that have no reason to know how.
 */
export function useToolSpawner(next: ToolSpawner | undefined): void {
  spawner = next ?? spawnDirectly;
}

const DEFAULT_MAX_STDOUT_BYTES = 32 * 1024 * 1024;
const DEFAULT_MAX_STDERR_CHARS = 8000;
// Often enough that a tool allocating as fast as it can (about 1 GB/s) overshoots its limit by tens of MB, not
// hundreds; VmHWM is the kernel's own peak, so even a spike between two samples is seen at the next one.
const MEMORY_SAMPLE_MS = 50;
const KIB = 1024;
const MIB = 1024 * 1024;

/**
 * Runs a native tool (tesseract, pdftotext, …) on a document with the same guarantees the pdf.js worker gives: a
 * wall-clock limit, a memory limit, bounded captured output and cancellation, each failure with its own code.
 * The tool is never run through a shell; arguments go to it verbatim.
 */
export function runTool(
  command: string,
  args: readonly string[],
  options: RunToolOptions,
): Promise<ToolResult> {
  if (!(options.timeoutMs > 0)) return Promise.reject(new RangeError('timeoutMs must be positive'));
  if (options.maxMemoryMb !== undefined && !(options.maxMemoryMb > 0)) {
    return Promise.reject(new RangeError('maxMemoryMb must be positive'));
  }
  const { signal } = options;
  if (signal?.aborted === true) return Promise.reject(abortReason(signal));

  return new Promise<ToolResult>((resolve, reject) => {
    const started = performance.now();
    const maxStdout = options.maxStdoutBytes ?? DEFAULT_MAX_STDOUT_BYTES;
    const maxStderr = options.maxStderrChars ?? DEFAULT_MAX_STDERR_CHARS;
    const stdoutChunks: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    let peakRssBytes = 0;
    let failure: Error | undefined;
    let settled = false;
    let exited = false;

    const child = spawner(command, args, options.env);

    const details = (): Record<string, unknown> => ({
      tool: command,
      ...(stderr === '' ? {} : { stderr: stderr.trim() }),
    });

    /** Stops the tool with the call's outcome; the promise settles once the process is gone. */
    const fail = (error: Error): void => {
      if (failure !== undefined || settled) return;
      failure = error;
      kill();
    };
    const kill = (): void => {
      if (!exited) child.kill('SIGKILL');
      // Pipes are not waited for after a kill: a grandchild the tool left behind could hold them open.
      child.stdout.destroy();
      child.stderr.destroy();
      child.stdin.destroy();
    };

    const timer = setTimeout(() => {
      fail(
        new QuarryError('parser_timeout', `${command} did not finish within ${options.timeoutMs} ms`, {
          details: { ...details(), timeoutMs: options.timeoutMs },
        }),
      );
    }, options.timeoutMs);

    const onAbort = (): void => fail(abortReason(signal));
    signal?.addEventListener('abort', onAbort, { once: true });

    const limitBytes = options.maxMemoryMb === undefined ? undefined : options.maxMemoryMb * MIB;
    let sampling = false;
    const sampler =
      process.platform === 'linux'
        ? setInterval(() => {
            // A launched tool's pid arrives a moment after it starts.
            if (sampling || exited || child.pid === undefined) return;
            sampling = true;
            peakRss(child.pid ?? 0).then(
              (bytes) => {
                sampling = false;
                if (bytes === undefined) return;
                peakRssBytes = Math.max(peakRssBytes, bytes);
                if (limitBytes !== undefined && bytes > limitBytes) {
                  fail(
                    new QuarryError(
                      'parser_out_of_memory',
                      `${command} used more than ${options.maxMemoryMb} MB of memory`,
                      { details: { ...details(), maxMemoryMb: options.maxMemoryMb, rssBytes: bytes } },
                    ),
                  );
                }
              },
              // Reading /proc fails only once the process is gone, which the 'exit' handler reports.
              () => {
                sampling = false;
              },
            );
          }, MEMORY_SAMPLE_MS)
        : undefined;

    const { onStdout } = options;
    // The consumer's pending work: the call settles only after it, so its failure is the call's.
    let consuming: Promise<void> = Promise.resolve();
    child.stdout.on('data', (chunk: Buffer) => {
      if (failure !== undefined) return;
      if (onStdout !== undefined) {
        let outcome: void | Promise<void>;
        try {
          outcome = onStdout(chunk);
        } catch (error) {
          fail(asError(error));
          return;
        }
        if (outcome instanceof Promise) {
          child.stdout.pause();
          consuming = outcome.then(
            () => {
              if (failure === undefined && !child.stdout.destroyed) child.stdout.resume();
            },
            (error: unknown) => fail(asError(error)),
          );
        }
        return;
      }
      stdoutBytes += chunk.length;
      if (stdoutBytes > maxStdout) {
        fail(
          new QuarryError('parser_crashed', `${command} wrote more than ${maxStdout} bytes of output`, {
            details: { ...details(), reason: 'output_too_large' },
          }),
        );
        return;
      }
      stdoutChunks.push(chunk);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-maxStderr);
    });

    // A tool that exits without reading all of its input closes the pipe: EPIPE is not the tool's failure.
    child.stdin.on('error', () => undefined);
    if (options.stdin === undefined) child.stdin.end();
    else child.stdin.end(options.stdin);

    const finish = (exitCode: number | null, exitSignal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(sampler);
      signal?.removeEventListener('abort', onAbort);
      if (failure !== undefined) {
        reject(failure);
        return;
      }
      const durationMs = performance.now() - started;
      if (exitCode !== null && (options.okExitCodes ?? [0]).includes(exitCode)) {
        resolve({ exitCode, stdout: Buffer.concat(stdoutChunks), stderr, peakRssBytes, durationMs });
        return;
      }
      const mapped = options.mapFailure?.({ exitCode, signal: exitSignal, stderr });
      if (mapped !== undefined) {
        reject(mapped);
        return;
      }
      const how = exitSignal === null ? `exited with code ${exitCode}` : `was killed by ${exitSignal}`;
      const tail = stderr.trim().split('\n').slice(-3).join(' | ');
      reject(
        new QuarryError('parser_crashed', `${command} ${how}${tail === '' ? '' : `: ${tail}`}`, {
          details: { ...details(), exitCode, signal: exitSignal },
        }),
      );
    };

    child.on('error', (error: NodeJS.ErrnoException) => {
      exited = true;
      if (failure === undefined && error.code === 'ELAUNCHER') {
        // The process that starts tools died under this one: not the document's fault, worth a retry.
        failure = new QuarryError('dependency_unavailable', `${command} was lost with the tool launcher`, {
          cause: error,
          details: { tool: command },
        });
      } else if (failure === undefined) {
        failure = new QuarryError(
          'parser_crashed',
          error.code === 'ENOENT'
            ? `${command} is not installed`
            : `${command} could not be started: ${error.message}`,
          { cause: error, details: { tool: command, reason: 'spawn_failed' } },
        );
      }
      finish(null, null);
    });
    child.on('exit', (code, exitSignal) => {
      exited = true;
      // After a kill nothing more is wanted from the pipes; otherwise 'close' (all output read) settles.
      if (failure !== undefined) finish(code, exitSignal);
    });
    child.on('close', (code: number | null, exitSignal: NodeJS.Signals | null) => {
      void consuming.then(() => finish(code, exitSignal));
    });
  });
}

const availability = new Map<string, Promise<boolean>>();

/**
 * Whether `command` can be started at all (it is on the PATH and executable), asked once per process: the tool is
 * started with `probeArgs` and any exit counts, only a failure to spawn does not.
 */
export function toolAvailable(
  command: string,
  probeArgs: readonly string[] = ['--version'],
): Promise<boolean> {
  let known = availability.get(command);
  if (known === undefined) {
    known = runTool(command, probeArgs, { timeoutMs: 10_000 }).then(
      () => true,
      (error: unknown) => !(QuarryError.is(error) && error.details?.['reason'] === 'spawn_failed'),
    );
    availability.set(command, known);
  }
  return known;
}

/** The process's peak resident set (VmHWM) in bytes, or undefined when /proc does not say. */
async function peakRss(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status) ?? /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match?.[1] === undefined ? undefined : Number(match[1]) * KIB;
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
