import { killGateway, killStreamLeader, killWorker, restartNats, restartPostgres } from './faults';
import type { LoadPlan } from './load';
import type { Scenario } from './scenario';

/** Job counts and rates: `CHAOS_JOBS` / `CHAOS_RATE` override the suite's defaults. */
export function plan(defaultJobs: number, defaultRate: number): LoadPlan {
  const jobs = Number(process.env['CHAOS_JOBS'] ?? defaultJobs);
  const jobsPerSecond = Number(process.env['CHAOS_RATE'] ?? defaultRate);
  if (!(jobs > 0) || !(jobsPerSecond > 0))
    throw new Error('CHAOS_JOBS and CHAOS_RATE must be positive numbers');
  return { jobs, jobsPerSecond };
}

export const scenarios = {
  killIngestWorker: (p: LoadPlan): Scenario => ({
    name: 'sigkill-ingest-worker',
    plan: p,
    fault: killWorker('ingest-worker'),
  }),
  killAnalysisWorker: (p: LoadPlan): Scenario => ({
    name: 'sigkill-analysis-worker',
    plan: p,
    fault: killWorker('analysis-worker'),
  }),
  killGateway: (p: LoadPlan): Scenario => ({ name: 'sigkill-gateway', plan: p, fault: killGateway }),
  restartNats: (p: LoadPlan): Scenario => ({ name: 'nats-restart', plan: p, fault: restartNats }),
  restartPostgres: (p: LoadPlan): Scenario => ({
    name: 'postgres-restart',
    plan: p,
    fault: restartPostgres(),
  }),
  /** Down for longer than a message's whole retry budget (5 deliveries, 0.5 s … 4 s apart). */
  postgresOutage: (p: LoadPlan): Scenario => ({
    name: 'postgres-outage-15s',
    plan: p,
    fault: restartPostgres({ minDownMs: 15_000 }),
  }),
  killClusterNode: (p: LoadPlan): Scenario => ({
    name: 'nats-cluster-node-kill',
    plan: p,
    fault: killStreamLeader,
  }),
};
