import { QuarryError, uuidv7, type AnalysisResult, type AnalyzeJobCommand } from '@quarry/contracts';
import type { DeliveryContext, HandlerOutcome } from '@quarry/messaging';
import type { AnalysesRepository, AnalysisClaim, JobControlRepository } from '@quarry/persistence';
import { createLogger, QuarryMetrics } from '@quarry/telemetry';
import type { ReembedChunks } from '../reindex/reembed-chunks';
import type { OfflineAnalyzers } from './analyzers';
import { AnalyzeJobHandler } from './analyze-job.handler';
import type { LlmAnalyzers } from './llm-analyzers';

// Two deliveries of one job in one worker at once (NATS 2.9 hands out a message twice after a worker died holding
// it): the job runs once, the second delivery waiting for that run. Every port faked.

type Status = 'queued' | 'running' | 'succeeded' | 'failed';

/** The job rows: claimed while active, ended once. */
class FakeAnalyses {
  readonly status = new Map<string, Status>();
  claims = 0;

  claimAnalysis(tenantId: string, jobId: string): Promise<AnalysisClaim> {
    const status = this.status.get(jobId) ?? 'queued';
    if (status !== 'queued' && status !== 'running')
      return Promise.resolve({ claimed: false, reason: 'job_inactive' });
    this.status.set(jobId, 'running');
    this.claims += 1;
    return Promise.resolve({
      claimed: true,
      jobId,
      tenantId,
      input: { type: 'report', question: 'Which documents ask for payment?', maxDocuments: 5 },
      traceId: null,
    });
  }

  finishAnalysis(_tenantId: string, jobId: string, outcome: { result: unknown } | { error: unknown }) {
    const status = this.status.get(jobId);
    if (status !== 'queued' && status !== 'running') return Promise.resolve(false);
    this.status.set(jobId, 'result' in outcome ? 'succeeded' : 'failed');
    return Promise.resolve(true);
  }
}

/** An analyzer whose runs last until the test ends them, one by one, each with a result or an error. */
class HeldAnalyzer {
  readonly available = true;
  readonly started: string[] = [];
  private readonly pending: { settle: (error?: Error) => void }[] = [];

  run(_request: unknown, run: { jobId: string }): Promise<AnalysisResult> {
    this.started.push(run.jobId);
    return new Promise((resolve, reject) => {
      this.pending.push({
        settle: (error) =>
          error
            ? reject(error)
            : resolve({ type: 'report', method: 'llm', question: 'q', documents: [], report: 'r' }),
      });
    });
  }

  /** Ends the oldest run still going. */
  end(error?: Error): void {
    const next = this.pending.shift();
    if (!next) throw new Error('no run is going');
    next.settle(error);
  }
}

function setUp() {
  const analyses = new FakeAnalyses();
  const analyzer = new HeldAnalyzer();
  const handler = new AnalyzeJobHandler(
    analyses as unknown as AnalysesRepository,
    { reportProgress: () => Promise.resolve() } as unknown as JobControlRepository,
    {} as OfflineAnalyzers,
    analyzer as unknown as LlmAnalyzers,
    {} as ReembedChunks,
    createLogger({ level: 'silent', pretty: false, app: 't' }),
    new QuarryMetrics({ app: 'analysis-worker', processMetrics: false }),
  );
  const tenantId = uuidv7();
  const command = (jobId = uuidv7()): AnalyzeJobCommand => ({ v: 1, jobId, tenantId });
  const ctx = (deliveryCount: number): DeliveryContext => ({
    subject: 'q.jobs.analyze',
    msgId: undefined,
    deliveryCount,
    maxDeliver: 5,
    traceparent: undefined,
    signal: new AbortController().signal,
    working: () => undefined,
  });
  return { analyses, analyzer, handler, command, ctx };
}

/** Lets every promise that can settle settle (the fakes answer at once). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('AnalyzeJobHandler, two deliveries of one job in one worker', () => {
  it('runs the job once: the second delivery waits for the first run, then finds the job ended', async () => {
    const { analyses, analyzer, handler, command, ctx } = setUp();
    const cmd = command();
    const first = handler.handle(cmd, ctx(1));
    await settle();
    const second = handler.handle(cmd, ctx(3));
    await settle();
    expect(analyzer.started).toEqual([cmd.jobId]);

    analyzer.end();
    const outcomes: HandlerOutcome[] = await Promise.all([first, second]);
    expect(outcomes).toEqual([{ kind: 'ack' }, { kind: 'ack' }]);
    expect(analyzer.started).toEqual([cmd.jobId]);
    expect(analyses.claims).toBe(1);
    expect(analyses.status.get(cmd.jobId)).toBe('succeeded');
  });

  it('resumes the job in the waiting delivery when the first run ended without finishing it', async () => {
    const { analyses, analyzer, handler, command, ctx } = setUp();
    const cmd = command();
    const first = handler.handle(cmd, ctx(1));
    await settle();
    const second = handler.handle(cmd, ctx(2));
    await settle();
    analyzer.end(new QuarryError('dependency_unavailable', 'the model went away', { retryable: true }));
    await expect(first).rejects.toThrow('the model went away');
    await settle();
    expect(analyzer.started).toEqual([cmd.jobId, cmd.jobId]);

    analyzer.end();
    expect(await second).toEqual({ kind: 'ack' });
    expect(analyses.claims).toBe(2);
    expect(analyses.status.get(cmd.jobId)).toBe('succeeded');
  });

  it('runs different jobs side by side', async () => {
    const { analyzer, handler, command, ctx } = setUp();
    const [a, b] = [command(), command()];
    const runs = [handler.handle(a, ctx(1)), handler.handle(b, ctx(1))];
    await settle();
    expect(analyzer.started).toEqual([a.jobId, b.jobId]);
    analyzer.end();
    analyzer.end();
    expect(await Promise.all(runs)).toEqual([{ kind: 'ack' }, { kind: 'ack' }]);
  });
});
