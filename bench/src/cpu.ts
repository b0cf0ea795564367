import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** CPU spent during a measured span: who is busy tells where the time goes on a 2-core box. */
export interface CpuSample {
  /** CPU milliseconds of this (bench) process: Prisma, the NATS client, the handlers. */
  benchCpuMs: number;
  /** Share of wall time the bench's event loop was busy (1 = saturated: latency is queueing in Node). */
  eventLoopUtilization: number;
  /** CPU milliseconds of the watched child process (the gateway), when there is one. */
  childCpuMs?: number;
  /** Share of the whole machine's CPU time that was busy (everyone's: PostgreSQL, NATS, other work). */
  machineBusy: number;
  /** Busy CPU milliseconds of the whole machine (every process, every core) over the span. */
  machineCpuMs: number;
}

let ticksPerSecond: number | undefined;
/** Clock ticks per second of /proc's CPU counters (USER_HZ). */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      // Without getconf the kernel's usual USER_HZ is assumed.
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of a process from /proc, in ms; undefined where /proc is not available. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state is [0], utime [11], stime [12].
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
  } catch {
    return undefined;
  }
}

/** CPU time of every core since boot, busy and in all (ms). */
export function machineTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const t = cpu.times;
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

/** One field of /proc/<pid>/status, or undefined when the process is gone. */
export function statusField(pid: number, field: 'VmRSS' | 'VmHWM' | 'Name'): string | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return new RegExp(`^${field}:\\s+(.+)$`, 'm').exec(status)?.[1]?.trim();
  } catch {
    // Gone between listing and reading: nothing to count.
    return undefined;
  }
}

/** A kB figure from /proc/<pid>/status in bytes (0 when the process is gone). */
export function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const value = statusField(pid, field);
  return value === undefined ? 0 : Number(value.replace(/\s*kB$/, '')) * 1024;
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

export function startCpuProbe(childPid?: number): () => CpuSample {
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const child0 = childPid === undefined ? undefined : processCpuMs(childPid);
  const m0 = machineTimes();
  return () => {
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    const child1 = childPid === undefined ? undefined : processCpuMs(childPid);
    const m1 = machineTimes();
    const sample: CpuSample = {
      benchCpuMs: round((cpu.user + cpu.system) / 1000, 1),
      eventLoopUtilization: round(elu.utilization, 3),
      machineBusy: round((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total), 3),
      machineCpuMs: round(m1.busy - m0.busy, 1),
    };
    if (child0 !== undefined && child1 !== undefined) sample.childCpuMs = round(child1 - child0, 1);
    return sample;
  };
}
