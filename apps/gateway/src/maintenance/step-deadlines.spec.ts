import type { ErrorInfo } from '@quarry/contracts';
import type { AnalysesRepository, MaintenanceRepository, OverdueDocument } from '@quarry/persistence';
import pino from 'pino';
import { StepDeadlineEnforcer } from './step-deadlines';

// The enforcer's calls with the database scripted: each job type's own deadline, documents through the repository's
// conditional failure, analyses and re-embeds through their own ending. Against PostgreSQL: liveness.int-spec.

const overdue: OverdueDocument = {
  jobId: 'j1',
  tenantId: 't1',
  documentId: 'd1',
  step: 'index',
  startedAt: new Date('2026-12-08T10:00:00Z'),
};

function setup(workerJobs: Record<string, string[]>, ends = true) {
  const asked: { what: string; type?: string; deadlineMs: number }[] = [];
  const finished: { jobId: string; error: ErrorInfo }[] = [];
  const store: Pick<MaintenanceRepository, 'failOverdueDocuments' | 'overdueWorkerJobs'> = {
    failOverdueDocuments: (deadlineMs) => {
      asked.push({ what: 'documents', deadlineMs });
      return Promise.resolve([overdue]);
    },
    overdueWorkerJobs: (type, deadlineMs) => {
      asked.push({ what: 'jobs', type, deadlineMs });
      return Promise.resolve(
        (workerJobs[type] ?? []).map((jobId) => ({ jobId, tenantId: 't1', startedAt: new Date() })),
      );
    },
  };
  const analyses: Pick<AnalysesRepository, 'finishAnalysis'> = {
    finishAnalysis: (_tenant, jobId, outcome) => {
      if ('error' in outcome) finished.push({ jobId, error: outcome.error });
      return Promise.resolve(ends);
    },
  };
  const enforcer = new StepDeadlineEnforcer(
    store,
    analyses,
    { deadlinesMs: { ingest: 1000, analyze: 2000, reindex: 3000 } },
    pino({ level: 'silent' }),
  );
  return { enforcer, asked, finished };
}

describe('StepDeadlineEnforcer', () => {
  it("applies each job type's own deadline and fails overdue analyses and re-embeds as a whole", async () => {
    const { enforcer, asked, finished } = setup({ analyze: ['a1'], reindex: ['r1'] });
    const report = await enforcer.run();
    expect(asked).toEqual([
      { what: 'documents', deadlineMs: 1000 },
      { what: 'jobs', type: 'analyze', deadlineMs: 2000 },
      { what: 'jobs', type: 'reindex', deadlineMs: 3000 },
    ]);
    expect(report).toEqual({
      documents: [overdue],
      jobs: [
        { jobId: 'a1', type: 'analyze' },
        { jobId: 'r1', type: 'reindex' },
      ],
    });
    expect(finished).toEqual([
      {
        jobId: 'a1',
        error: {
          code: 'deadline_exceeded',
          message: expect.stringMatching(/2 s$/) as string,
          retryable: false,
        },
      },
      {
        jobId: 'r1',
        error: {
          code: 'deadline_exceeded',
          message: expect.stringMatching(/3 s$/) as string,
          retryable: false,
        },
      },
    ]);
    expect(enforcer.stats).toEqual({ runs: 1, failedDocuments: 1, failedJobs: 2 });
  });

  it('does not count a job that ended by itself before its failure could be written', async () => {
    const { enforcer } = setup({ analyze: ['a1'] }, false);
    expect((await enforcer.run()).jobs).toEqual([]);
    expect(enforcer.stats.failedJobs).toBe(0);
  });
});
