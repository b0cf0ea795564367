import type { BlobStore } from '@quarry/messaging';
import type { MaintenanceRepository } from '@quarry/persistence';
import type { Logger } from '@quarry/telemetry';

export interface RetentionOptions {
  /** Terminal jobs (with documents, pages, chunks, steps, events and unshared blobs) older than this go. */
  jobRetentionMs: number;
  /** Sent outbox rows older than this go (rows of active jobs stay). */
  outboxRetentionMs: number;
  /** Dead letters older than this go. */
  deadLetterRetentionMs: number;
  /** Receipts of crawler deliveries older than this go (their senders retry for minutes, not days). */
  webhookReceiptRetentionMs: number;
  /** Rows per statement or transaction, so one pass never holds a huge transaction. */
  batchSize?: number;
}

export interface RetentionReport {
  jobs: number;
  blobs: number;
  outboxRows: number;
  /** null when the database has no dead_letters table. */
  deadLetters: number | null;
  webhookReceipts: number;
}

type RetentionStore = Pick<
  MaintenanceRepository,
  'purgeTerminalJobs' | 'purgeSentOutbox' | 'purgeDeadLetters' | 'purgeWebhookReceipts'
>;

/** Deletes what has outlived its retention, batch by batch until nothing is left. */
export class RetentionService {
  constructor(
    private readonly store: RetentionStore,
    private readonly blobs: Pick<BlobStore, 'delete'>,
    private readonly options: RetentionOptions,
    private readonly logger: Logger,
  ) {}

  async run(): Promise<RetentionReport> {
    const batch = this.options.batchSize ?? 200;
    const report: RetentionReport = { jobs: 0, blobs: 0, outboxRows: 0, deadLetters: 0, webhookReceipts: 0 };
    for (;;) {
      const purged = await this.store.purgeTerminalJobs(this.options.jobRetentionMs, batch, (keys) =>
        this.deleteBlobs(keys),
      );
      report.jobs += purged.jobs;
      report.blobs += purged.blobs;
      if (purged.jobs < batch) break;
    }
    for (;;) {
      const n = await this.store.purgeSentOutbox(this.options.outboxRetentionMs, batch * 10);
      report.outboxRows += n;
      if (n < batch * 10) break;
    }
    for (;;) {
      const n = await this.store.purgeDeadLetters(this.options.deadLetterRetentionMs, batch * 10);
      if (n === null) {
        report.deadLetters = null;
        break;
      }
      report.deadLetters = (report.deadLetters ?? 0) + n;
      if (n < batch * 10) break;
    }
    for (;;) {
      const n = await this.store.purgeWebhookReceipts(this.options.webhookReceiptRetentionMs, batch * 10);
      report.webhookReceipts += n;
      if (n < batch * 10) break;
    }
    if (report.jobs + report.outboxRows + (report.deadLetters ?? 0) + report.webhookReceipts > 0) {
      this.logger.info(report, 'retention removed expired rows');
    }
    return report;
  }

  /** Sequential: a failure stops the batch, whose rows then stay for the next pass. */
  private async deleteBlobs(keys: string[]): Promise<void> {
    for (const key of keys) await this.blobs.delete(key);
  }
}
