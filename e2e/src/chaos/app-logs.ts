import { openSync, readSync, closeSync, statSync } from 'node:fs';
import type { AppName } from '@quarry/testing';
import type { ChaosStack } from './chaos-stack';

export type LogOffsets = Record<AppName, number>;

export interface DeliveryStats {
  /** Document steps that ran on a second or later delivery (a killed worker's messages, naks). */
  redelivered: number;
  /** Handler attempts that failed and were nak'd or dead-lettered. */
  handlerFailures: number;
  /** Attempts held through a dependency outage instead of spending a delivery. */
  heldThroughOutage: number;
}

const APPS: AppName[] = ['gateway', 'ingest-worker', 'analysis-worker'];

function size(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Where each app's log ends now, so a scenario reads only its own lines. */
export function logOffsets(stack: ChaosStack): LogOffsets {
  return Object.fromEntries(APPS.map((a) => [a, size(stack.apps[a].logFile)])) as LogOffsets;
}

function linesSince(file: string, offset: number): string[] {
  const end = size(file);
  if (end <= offset) return [];
  const buffer = Buffer.alloc(end - offset);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buffer, 0, buffer.length, offset);
  } finally {
    closeSync(fd);
  }
  return buffer.toString('utf8').split('\n');
}

/** Evidence from the workers' logs that the fault hit work in flight, and how they coped. */
export function deliveryStats(stack: ChaosStack, since: LogOffsets): DeliveryStats {
  const redelivered = new Set<string>();
  let handlerFailures = 0;
  let heldThroughOutage = 0;
  for (const app of ['ingest-worker', 'analysis-worker'] as const) {
    for (const line of linesSince(stack.apps[app].logFile, since[app])) {
      if (!line.startsWith('{')) continue;
      let entry: { msg?: string; delivery?: number; documentId?: string };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        // A line cut by a SIGKILL mid-write.
        continue;
      }
      if (entry.msg === 'handler failed') handlerFailures++;
      if (entry.msg === 'dependency unavailable; holding the message') heldThroughOutage++;
      if ((entry.delivery ?? 0) > 1 && entry.documentId) redelivered.add(`${app}:${entry.documentId}`);
    }
  }
  return { redelivered: redelivered.size, handlerFailures, heldThroughOutage };
}
