import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@quarry/testing';

/** Every chaos run lives under tmp/chaos/<run>/ (gitignored): data directories, configs, logs. */
export const CHAOS_ROOT = path.join(REPO_ROOT, 'tmp/chaos');

/** A process the suite started and must end, whatever happens to the test run. */
interface Tracked {
  pid: number;
  /** What its command line must contain before a later run kills a leftover by pid. */
  marker: string;
  /** SIGKILL for nats-server; SIGQUIT for a postmaster (its immediate shutdown, children included). */
  signal: NodeJS.Signals;
}

const runs = new Map<string, Map<number, Tracked>>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function killTracked(t: Tracked): void {
  // A recycled pid must never be hit: only the process whose command line names our run dir.
  if (!alive(t.pid) || !commandLine(t.pid).includes(t.marker)) return;
  try {
    process.kill(t.pid, t.signal);
  } catch (error) {
    process.stderr.write(`[chaos] could not kill ${t.pid}: ${String(error)}\n`);
  }
}

function pidFile(runDir: string): string {
  return path.join(runDir, 'pids.json');
}

function persist(runDir: string): void {
  const tracked = [...(runs.get(runDir)?.values() ?? [])];
  writeFileSync(pidFile(runDir), JSON.stringify({ owner: process.pid, tracked }, null, 2));
}

/**
 * A detached watchdog per run: once the test process is gone (a crash, a SIGKILL, Ctrl-C, a Jest
 * timeout that skipped afterAll) it kills the run's processes listed in pids.json; once pids.json
 * is gone (the run was released) it exits. Jest runs tests in a sandbox whose 'exit' listeners
 * never fire, so a separate process is the dependable way.
 */
const WATCHDOG = `
const fs = require('node:fs');
const [runDir, owner] = process.argv.slice(1);
const file = runDir + '/pids.json';
const alive = (pid) => { try { process.kill(Number(pid), 0); return true; } catch { return false; } };
const cmdline = (pid) => { try { return fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').split(String.fromCharCode(0)).join(' '); } catch { return ''; } };
const timer = setInterval(() => {
  if (!fs.existsSync(file)) { clearInterval(timer); return; }
  if (alive(owner)) return;
  clearInterval(timer);
  let tracked = [];
  try { tracked = JSON.parse(fs.readFileSync(file, 'utf8')).tracked; } catch { tracked = []; }
  for (const t of tracked) {
    if (alive(t.pid) && cmdline(t.pid).includes(t.marker)) { try { process.kill(t.pid, t.signal); } catch { /* gone meanwhile */ } }
  }
}, 500);
`;

function startWatchdog(runDir: string): void {
  const child = spawn(process.execPath, ['-e', WATCHDOG, runDir, String(process.pid)], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
}

/**
 * Ends what an earlier run left behind when its test process died without tearing down (SIGKILL,
 * OOM): its servers are found through the pid file of its run dir, checked against their command
 * line, and killed by pid; then the run dir is removed.
 */
export function reapLeftovers(): void {
  if (!existsSync(CHAOS_ROOT)) return;
  for (const entry of readdirSync(CHAOS_ROOT, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const runDir = path.join(CHAOS_ROOT, entry.name);
    const file = pidFile(runDir);
    if (!existsSync(file)) continue;
    let state: { owner: number; tracked: Tracked[] };
    try {
      state = JSON.parse(readFileSync(file, 'utf8')) as { owner: number; tracked: Tracked[] };
    } catch (error) {
      process.stderr.write(`[chaos] unreadable ${file}: ${String(error)}\n`);
      continue;
    }
    if (state.owner === process.pid || alive(state.owner)) continue;
    for (const t of state.tracked) killTracked(t);
    rmSync(runDir, { recursive: true, force: true });
  }
}

/** A run directory of its own, removed by `releaseRun` (kept with its logs when the run failed). */
export function createRunDir(label: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  const runDir = path.join(CHAOS_ROOT, `${label}-${stamp}-${process.pid}`);
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  runs.set(runDir, new Map());
  persist(runDir);
  startWatchdog(runDir);
  return runDir;
}

export function track(runDir: string, pid: number, marker: string, signal: NodeJS.Signals): void {
  runs.get(runDir)?.set(pid, { pid, marker, signal });
  persist(runDir);
}

export function untrack(runDir: string, pid: number): void {
  runs.get(runDir)?.delete(pid);
  persist(runDir);
}

/** Kills whatever of the run is still up; removes its directory unless `keep` (logs of a failure). */
export function releaseRun(runDir: string, options: { keep: boolean }): void {
  for (const t of runs.get(runDir)?.values() ?? []) killTracked(t);
  runs.delete(runDir);
  if (options.keep) rmSync(pidFile(runDir), { force: true });
  else rmSync(runDir, { recursive: true, force: true });
}
