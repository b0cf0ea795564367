import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { deliveryStats, logOffsets, type DeliveryStats } from './app-logs';
import type { ChaosStack } from './chaos-stack';
import { checkInvariants, waitForTerminal, type InvariantReport } from './invariants';
import { LoadDriver, type AcceptedJob, type LoadPlan } from './load';
import { CHAOS_ROOT } from './reaper';

export interface FaultContext {
  stack: ChaosStack;
  load: LoadDriver;
  plan: LoadPlan;
  /** Records what the fault did, for the summary line (`killed=ingest-worker down=1.4s`). */
  note(key: string, value: string | number): void;
}

export interface Scenario {
  name: string;
  plan: LoadPlan;
  /** Breaks something while the load runs and brings it back; resolves once it is back. */
  fault(ctx: FaultContext): Promise<void>;
  /** The dead-letter scenario expects its poison documents to fail; nothing else may. */
  poisonExpected?: boolean;
  /** No job finished for this long while some are open: those are stuck. */
  stallMs?: number;
}

export interface ScenarioResult extends InvariantReport, DeliveryStats {
  scenario: string;
  jobs: number;
  accepted: number;
  /** The accepted jobs themselves (left out of results.jsonl). */
  acceptedJobs: AcceptedJob[];
  unaccepted: number;
  unexpectedAnswers: string[];
  failedAttempts: Record<string, number>;
  replayed: number;
  faultNotes: Record<string, string | number>;
  elapsedS: number;
}

export function summaryLine(r: ScenarioResult): string {
  const attempts = Object.entries(r.failedAttempts)
    .map(([k, v]) => `${k.replace(/\s+/g, '_')}:${v}`)
    .join(',');
  const notes = Object.entries(r.faultNotes)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return (
    `scenario=${r.scenario} jobs=${r.jobs} lost=${r.lost} duplicated=${r.duplicated} stuck=${r.stuck} ` +
    `elapsed=${r.elapsedS.toFixed(1)}s | accepted=${r.accepted} unaccepted=${r.unaccepted} failed=${r.failed} ` +
    `inconsistent=${r.inconsistent} leftover=${r.leftover} redelivered=${r.redelivered} ` +
    `handler_failures=${r.handlerFailures} held_through_outage=${r.heldThroughOutage} ` +
    `replayed_uploads=${r.replayed} failed_attempts=${attempts || 0}${notes ? ` ${notes}` : ''}`
  );
}

/**
 * One scenario: the load runs, the fault strikes and heals meanwhile, every accepted job is awaited,
 * then every invariant is checked. Prints the summary line and appends the figures to
 * tmp/chaos/results.jsonl.
 */
export async function runScenario(stack: ChaosStack, scenario: Scenario): Promise<ScenarioResult> {
  const started = performance.now();
  const offsets = logOffsets(stack);
  const load = new LoadDriver(stack, scenario.plan);
  const faultNotes: Record<string, string | number> = {};
  const loading = load.run();
  const faulting = scenario.fault({
    stack,
    load,
    plan: scenario.plan,
    note: (k, v) => (faultNotes[k] = v),
  });
  const [loaded, faulted] = await Promise.allSettled([loading, faulting]);
  if (faulted.status === 'rejected') throw faulted.reason;
  if (loaded.status === 'rejected') throw loaded.reason;

  const loadedAt = performance.now();
  faultNotes['load'] = `${((loadedAt - started) / 1000).toFixed(1)}s`;
  const stillOpen = await waitForTerminal(stack, [...load.accepted.keys()], {
    stallMs: scenario.stallMs ?? 60_000,
    capMs: 10 * 60_000,
  });
  const drainedAt = performance.now();
  faultNotes['drain'] = `${((drainedAt - loadedAt) / 1000).toFixed(1)}s`;
  const report = await checkInvariants(stack, [...load.accepted.values()], {
    stillOpen,
    poisonExpected: scenario.poisonExpected ?? false,
  });
  faultNotes['check'] = `${((performance.now() - drainedAt) / 1000).toFixed(1)}s`;
  const result: ScenarioResult = {
    scenario: scenario.name,
    jobs: scenario.plan.jobs,
    accepted: load.accepted.size,
    acceptedJobs: [...load.accepted.values()],
    unaccepted: load.unaccepted.length,
    unexpectedAnswers: load.unexpected,
    failedAttempts: Object.fromEntries(load.failedAttempts),
    replayed: load.replayed,
    faultNotes,
    elapsedS: (performance.now() - started) / 1000,
    ...report,
    ...deliveryStats(stack, offsets),
  };
  reportResult(stack, result);
  return result;
}

/** Prints the summary line (and examples of violations) and appends the figures to results.jsonl. */
export function reportResult(stack: ChaosStack, result: ScenarioResult): void {
  process.stdout.write(`\n${summaryLine(result)}\n`);
  if (result.examples.length > 0) process.stdout.write(`  ${result.examples.join('\n  ')}\n`);
  mkdirSync(CHAOS_ROOT, { recursive: true });
  const { acceptedJobs: _jobs, ...figures } = result;
  appendFileSync(
    path.join(CHAOS_ROOT, 'results.jsonl'),
    `${JSON.stringify({ at: new Date().toISOString(), run: path.basename(stack.runDir), ...figures })}\n`,
  );
}

/** The invariants every scenario must keep; on a violation the run dir's logs are kept. */
export function expectClean(stack: ChaosStack, r: ScenarioResult): void {
  const violations = {
    lost: r.lost,
    duplicated: r.duplicated,
    stuck: r.stuck,
    failed: r.failed,
    inconsistent: r.inconsistent,
    leftover: r.leftover,
    unaccepted: r.unaccepted,
    unexpectedAnswers: r.unexpectedAnswers.length,
    // An outage is a 503 (or no answer at all), never an unknown 500.
    internalErrors: Object.entries(r.failedAttempts)
      .filter(([reason]) => reason.startsWith('500'))
      .reduce((a, [, n]) => a + n, 0),
  };
  const clean = Object.values(violations).every((v) => v === 0);
  if (!clean) stack.keepLogs = true;
  expect({ violations, examples: clean ? [] : r.examples }).toEqual({
    violations: {
      lost: 0,
      duplicated: 0,
      stuck: 0,
      failed: 0,
      inconsistent: 0,
      leftover: 0,
      unaccepted: 0,
      unexpectedAnswers: 0,
      internalErrors: 0,
    },
    examples: [],
  });
}
