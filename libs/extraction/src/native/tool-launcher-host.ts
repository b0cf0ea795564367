// The process ToolLauncher forks: it starts native tools (pdftotext, tesseract, pdftoppm…) for the worker and
// relays their output over IPC. It imports nothing but Node itself, so it stays small — that is its purpose: the
// cost of starting a process grows with the memory of the process that forks, and a worker holding a database
// client is several times the size of this one. Under Jest and in-repo tools Node runs this file by stripping
// its types; the build compiles it beside the rest.
import { spawn, type ChildProcess } from 'node:child_process';
import type { LauncherReply, LauncherRequest } from './tool-launcher-protocol';

const children = new Map<number, ChildProcess>();
/** Kills asked for before the tool had started. */
const killWhenStarted = new Set<number>();

function reply(message: LauncherReply): void {
  process.send?.(message);
}

function start(id: number, command: string, args: string[], env: Record<string, string> | undefined): void {
  const child = spawn(command, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    // The tool inherits the environment plus its own knobs: passing it on is not reading configuration, which is
    // what the rule guards against.
    // eslint-disable-next-line no-restricted-syntax
    env: env === undefined ? undefined : { ...process.env, ...env },
    windowsHide: true,
  });
  children.set(id, child);
  child.on('spawn', () => {
    reply({ op: 'spawned', id, pid: child.pid ?? 0 });
    if (killWhenStarted.delete(id)) child.kill('SIGKILL');
  });
  child.on('error', (error: NodeJS.ErrnoException) => {
    reply({ op: 'error', id, code: error.code ?? null, message: error.message });
  });
  child.stdout?.on('data', (data: Buffer) => reply({ op: 'stdout', id, data }));
  child.stderr?.on('data', (data: Buffer) => reply({ op: 'stderr', id, data }));
  // A tool that exits without reading all of its input closes the pipe: EPIPE is not the tool's failure.
  child.stdin?.on('error', () => undefined);
  child.on('exit', (code, signal) => reply({ op: 'exit', id, code, signal }));
  child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
    children.delete(id);
    killWhenStarted.delete(id);
    reply({ op: 'close', id, code, signal });
  });
}

process.on('message', (message: LauncherRequest) => {
  switch (message.op) {
    case 'spawn':
      start(message.id, message.command, message.args, message.env);
      return;
    case 'stdin': {
      const stdin = children.get(message.id)?.stdin;
      if (message.data === null) stdin?.end();
      else stdin?.write(message.data);
      return;
    }
    case 'pause':
      children.get(message.id)?.stdout?.pause();
      return;
    case 'resume':
      children.get(message.id)?.stdout?.resume();
      return;
    case 'kill': {
      const child = children.get(message.id);
      if (child?.pid === undefined) killWhenStarted.add(message.id);
      else child.kill('SIGKILL');
      return;
    }
  }
});

// The worker went away (or closed the launcher): its tools must not outlive it.
process.on('disconnect', () => {
  for (const child of children.values()) child.kill('SIGKILL');
  process.exit(0);
});
