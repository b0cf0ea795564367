import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { QuarryError, type AnalyzeJobCommand, type ErrorInfo } from '@quarry/contracts';
import {
  OnCommand,
  OnDeadLetter,
  Outcome,
  type DeadLetterContext,
  type DeliveryContext,
  type HandlerOutcome,
} from '@quarry/messaging';
import { AnalysesRepository, JobControlRepository } from '@quarry/persistence';
import { LOGGER, QUARRY_METRICS, type Logger, type QuarryMetrics } from '@quarry/telemetry';
import { OfflineAnalyzers } from './analyzers';
import { LlmAnalyzers } from './llm-analyzers';
import { ReembedChunks } from '../reindex/reembed-chunks';
import type { AnalysisRun, Analyzer } from './sources';

/** Progress is written at most this often (and at every phase change): a long job does not write per item. */
const PROGRESS_EVERY_MS = 500;

/**
 * Runs one analysis job: claims it, runs the analysis its request names, and ends the job with the result or with
 * the reason it could not be made. A non-retryable error (nothing selected, no language model) ends the job
 * `failed` at once; a retryable one (the database or the embedding model away) goes back to the queue, and past the
 * delivery limit the dead letter fails the job.
 */
@Controller()
export class AnalyzeJobHandler {
  constructor(
    private readonly analyses: AnalysesRepository,
    private readonly jobControl: JobControlRepository,
    private readonly offline: OfflineAnalyzers,
    private readonly llm: LlmAnalyzers,
    private readonly reembed: ReembedChunks,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(QUARRY_METRICS) private readonly metrics: QuarryMetrics,
  ) {}

  /**
   * The jobs this process is running, each with a promise that settles when its run ends. A claim lets a redelivery
   * take over a running job, because a redelivery means the delivery before it is gone; but NATS 2.9 can hand out one
   * message twice at once (after a worker dies holding it, a redelivery that fails to reach the dead worker's pull
   * leaves the message both to redeliver and to deliver as new: nats-server#5305, fixed in a later 2.10), and both
   * copies came to the restarted worker, which ran a report twice side by side, asking the model about every remaining
   * document twice. A second delivery of a job running here waits for that run instead, then finds the job ended (or
   * resumes it). Copies on two replicas still both run; kept items and the one finish keep the result right.
   */
  private readonly runningHere = new Map<string, Promise<void>>();

  @OnCommand('analyzeJob')
  async handle(@Payload() cmd: AnalyzeJobCommand, @Ctx() ctx: DeliveryContext): Promise<HandlerOutcome> {
    for (let earlier = this.runningHere.get(cmd.jobId); earlier; earlier = this.runningHere.get(cmd.jobId)) {
      this.logger.info(
        { jobId: cmd.jobId, delivery: ctx.deliveryCount },
        'this job is running here already; waiting for that run',
      );
      await earlier;
    }
    const running = this.claimAndRun(cmd, ctx);
    const ended = running.then(
      () => undefined,
      () => undefined,
    );
    this.runningHere.set(cmd.jobId, ended);
    try {
      return await running;
    } finally {
      if (this.runningHere.get(cmd.jobId) === ended) this.runningHere.delete(cmd.jobId);
    }
  }

  private async claimAndRun(cmd: AnalyzeJobCommand, ctx: DeliveryContext): Promise<HandlerOutcome> {
    const log = this.logger.child({ jobId: cmd.jobId, delivery: ctx.deliveryCount });
    const claim = await this.analyses.claimAnalysis(cmd.tenantId, cmd.jobId);
    if (!claim.claimed) {
      if (claim.reason === 'invalid_input') {
        await this.finish(cmd, {
          error: { code: 'validation_failed', message: 'the stored analysis request is invalid' },
        });
      }
      log.info({ reason: claim.reason }, 'nothing to do for this analysis');
      return Outcome.ack();
    }
    let lastProgress = 0;
    let lastStep = '';
    const started = performance.now();
    try {
      const run: AnalysisRun = {
        jobId: cmd.jobId,
        tenantId: cmd.tenantId,
        signal: ctx.signal,
        working: () => ctx.working(),
        progress: async (p) => {
          const now = Date.now();
          if (p.step === lastStep && now - lastProgress < PROGRESS_EVERY_MS && p.done < p.total) return;
          lastStep = p.step;
          lastProgress = now;
          ctx.working();
          await this.jobControl.reportProgress(cmd.jobId, p);
        },
      };
      const { input } = claim;
      const result =
        input.type === 'reindex' ? await this.reembed.run(input, run) : await this.analyzer.run(input, run);
      await this.finish(cmd, { result });
      this.count(claim.input.type, 'succeeded', '');
      log.info(
        {
          analysis: claim.input.type,
          method: 'method' in result ? result.method : result.model,
          ms: Math.round(performance.now() - started),
        },
        'analysis done',
      );
      return Outcome.ack();
    } catch (error) {
      if (!QuarryError.is(error) || error.retryable) throw error;
      // The request cannot be answered as asked: the job says why, and the message is done with.
      const info: ErrorInfo = { code: error.code, message: error.message };
      await this.finish(cmd, { error: info });
      this.count(claim.input.type, 'failed', error.code);
      log.info({ analysis: claim.input.type, code: error.code }, 'analysis failed');
      return Outcome.ack();
    }
  }

  @OnDeadLetter('analyzeJob')
  async onDeadLetter(@Payload() cmd: AnalyzeJobCommand, @Ctx() { error }: DeadLetterContext): Promise<void> {
    await this.finish(cmd, { error: { code: error.code, message: error.message } });
    this.count('unknown', 'failed', error.code);
  }

  /** With a language model configured, every analysis uses it (ADR 29); without one, the offline methods (ADR 28). */
  private get analyzer(): Analyzer {
    return this.llm.available ? this.llm : this.offline;
  }

  private finish(cmd: AnalyzeJobCommand, outcome: Parameters<AnalysesRepository['finishAnalysis']>[2]) {
    return this.analyses.finishAnalysis(cmd.tenantId, cmd.jobId, outcome);
  }

  private count(analysis: string, result: string, code: string): void {
    this.metrics.counter('quarry_analyses_total').inc({ analysis, result, code });
  }
}
