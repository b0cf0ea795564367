import type { ErrorInfo } from '@quarry/contracts';
import type {
  CrawlsRepository,
  MaintenanceRepository,
  OpenDocumentCommand,
  JobControlRepository,
  StalledJob,
} from '@quarry/persistence';
import type { Logger, QuarryMetrics } from '@quarry/telemetry';
import type { WorkQueue } from '@quarry/messaging';

export interface SweeperOptions {
  /** A crawl's job that heard nothing from its crawler for this long is closed (its final delivery was lost). */
  crawlIdleMs?: number;
  /** A job without a heartbeat (or, never started, created) this long ago is examined. */
  stallAfterMs: number;
  /** Re-drives of one job before its lost documents fail with `stalled`. */
  maxRedrives: number;
  /** Jobs examined per sweep, the quietest first. */
  batchSize?: number;
}

/** What the sweeper concluded about one stalled job. */
export type SweepDecision =
  /** Every open document's command is still queued or being worked on (or not yet published). */
  | 'waiting'
  /** Some command was lost and has been published again. */
  | 'redriven'
  /** Some command was lost once too often: those documents failed with `stalled`. */
  | 'failed_stalled'
  /** Workers moved the job or its documents on while the sweeper looked. */
  | 'moved_on'
  /** Active with every document in a final status: ended now, as its last document would have ended it. */
  | 'settled'
  /** Active, but no document is open, and it did not end (another path ended it meanwhile). */
  | 'no_open_documents'
  /** A crawl's job with every page done so far, waiting for the crawler's next delivery. */
  | 'waiting_for_crawler'
  | 'error';

export interface SweepReport {
  jobs: { jobId: string; decision: SweepDecision; lostDocuments: number }[];
}

type SweeperStore = Pick<
  MaintenanceRepository,
  'findStalledJobs' | 'openDocumentCommands' | 'redrive' | 'settleJob'
>;
type CrawlCloser = Pick<CrawlsRepository, 'closeIdleCrawls'>;
type DocumentFailer = Pick<JobControlRepository, 'failDocument'>;

/**
 * Makes sure no job stays non-terminal forever. A quiet job is not necessarily stuck: its commands
 * may be waiting in the work queue behind others, or a worker may be on a long page (and if that
 * worker died, JetStream redelivers after ack_wait). So for each open document the sweeper asks the
 * stream whether the document's current command is still there; only a command that is gone while its
 * document has not moved on is lost. Lost commands are re-published through the outbox with the next
 * message-id generation; after `maxRedrives` re-drives of a job its lost documents fail with
 * `stalled`, which finishes the job. An active job with no open document (its last one failed or was
 * indexed by a path that did not end it) is ended as its last document would have ended it. The
 * repositories publish what they commit (and count the jobs they end) before returning.
 */
export class StuckJobSweeper {
  readonly stats = { sweeps: 0, redrivenDocuments: 0, stalledDocuments: 0, settledJobs: 0, errors: 0 };
  lastReport: SweepReport | undefined;
  /** Where the next sweep continues when the last one filled its batch; undefined: from the start. */
  private cursor: Pick<StalledJob, 'since' | 'id'> | undefined;

  constructor(
    private readonly store: SweeperStore,
    private readonly documents: DocumentFailer,
    private readonly probe: Pick<WorkQueue, 'isQueued'>,
    private readonly options: SweeperOptions,
    private readonly logger: Logger,
    private readonly metrics: Pick<QuarryMetrics, 'counter'>,
    private readonly crawls?: CrawlCloser,
  ) {}

  async sweep(): Promise<SweepReport> {
    const batch = this.options.batchSize ?? 100;
    if (this.crawls && this.options.crawlIdleMs !== undefined) await this.closeIdleCrawls(this.crawls, batch);
    const stalled = await this.store.findStalledJobs(this.options.stallAfterMs, batch, this.cursor);
    const last = stalled[stalled.length - 1];
    this.cursor = stalled.length === batch && last ? { since: last.since, id: last.id } : undefined;
    const report: SweepReport = { jobs: [] };
    for (const job of stalled) {
      try {
        report.jobs.push({ jobId: job.id, ...(await this.examine(job)) });
      } catch (error) {
        // One job's trouble (NATS or the database briefly away) must not stop the others' sweep.
        this.stats.errors++;
        this.logger.warn({ err: error, jobId: job.id }, 'could not examine a stalled job');
        report.jobs.push({ jobId: job.id, decision: 'error', lostDocuments: 0 });
      }
    }
    this.stats.sweeps++;
    this.lastReport = report;
    return report;
  }

  private async closeIdleCrawls(crawls: CrawlCloser, batch: number): Promise<void> {
    const idleMs = this.options.crawlIdleMs ?? Infinity;
    const { closed } = await crawls.closeIdleCrawls(idleMs, batch);
    if (closed.length === 0) return;
    this.logger.warn({ jobs: closed, idleMs }, 'closed crawl jobs whose crawler fell silent');
  }

  private async examine(job: StalledJob): Promise<{ decision: SweepDecision; lostDocuments: number }> {
    const open = await this.store.openDocumentCommands(job.id);
    if (open.length === 0 && job.acceptingDocuments)
      return { decision: 'waiting_for_crawler', lostDocuments: 0 };
    if (open.length === 0) {
      if (await this.store.settleJob(job.id)) {
        this.stats.settledJobs++;
        this.logger.warn(
          { jobId: job.id, status: job.status, quietSince: job.since.toISOString() },
          'ended an active job whose documents were all finished',
        );
        return { decision: 'settled', lostDocuments: 0 };
      }
      return { decision: 'no_open_documents', lostDocuments: 0 };
    }
    const lost: OpenDocumentCommand[] = [];
    for (const doc of open) if (await this.isLost(doc)) lost.push(doc);
    if (lost.length === 0) return { decision: 'waiting', lostDocuments: 0 };

    const result = await this.store.redrive(job.id, lost, this.options.maxRedrives);
    if (result.outcome === 'moved_on') return { decision: 'moved_on', lostDocuments: lost.length };
    if (result.outcome === 'redriven') {
      this.stats.redrivenDocuments += result.outbox.length;
      this.metrics.counter('quarry_stalled_jobs_redriven_total').inc({}, result.outbox.length);
      this.logger.warn(
        {
          jobId: job.id,
          redrive: result.redrives,
          documents: lost.map((d) => ({ documentId: d.documentId, status: d.status, command: d.command })),
          quietSince: job.since.toISOString(),
        },
        'stalled job: re-published commands that were no longer in the work queue',
      );
      return { decision: 'redriven', lostDocuments: lost.length };
    }
    for (const doc of lost) {
      const error: ErrorInfo = {
        code: 'stalled',
        message: `the ${doc.command} command of this document was lost again after ${result.redrives} re-drive(s) of the job`,
      };
      await this.documents.failDocument(
        { jobId: job.id, documentId: doc.documentId, tenantId: job.tenantId },
        error,
      );
      this.stats.stalledDocuments++;
    }
    this.logger.warn(
      { jobId: job.id, redrives: result.redrives, documents: lost.map((d) => d.documentId) },
      'stalled job: re-drives exhausted, lost documents failed as stalled',
    );
    return { decision: 'failed_stalled', lostDocuments: lost.length };
  }

  /**
   * Lost: no command row, or a published one JetStream no longer holds. A row the relay has not
   * published yet is the relay's to deliver. A row published before sequences were recorded cannot
   * be checked; it counts as lost, which costs at most one redundant delivery (claims are idempotent)
   * since the re-driven row has a sequence.
   */
  private async isLost(doc: OpenDocumentCommand): Promise<boolean> {
    const latest = doc.latest;
    if (!latest) return true;
    if (!latest.sent) return false;
    if (latest.publishedSeq === null) return true;
    return !(await this.probe.isQueued(latest.publishedSeq, latest.msgId));
  }
}
