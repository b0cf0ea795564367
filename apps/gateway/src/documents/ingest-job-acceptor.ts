import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { commandEnvelope, uuidv7, type IngestJobOptions, type Lane, type Topology } from '@quarry/contracts';
import { TOPOLOGY } from '@quarry/messaging';
import { JobsRepository, type JobView, type NewDocument } from '@quarry/persistence';
import {
  currentOrNewTraceparent,
  LOGGER,
  parseTraceparent,
  QUARRY_METRICS,
  type Logger,
  type QuarryMetrics,
} from '@quarry/telemetry';

export interface UploadResult {
  job: JobView;
  created: boolean;
}

/**
 * Accepts an ingest job for documents the request already described (uploaded bytes, or URLs to fetch): picks the
 * lane, writes the job, its documents and their ingest commands in one statement (the repository publishes them
 * after the commit). An Idempotency-Key already used returns the earlier job (`created: false`); the caller owns
 * what it stored.
 */
@Injectable()
export class IngestJobAcceptor {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly jobs: JobsRepository,
    @Inject(QUARRY_METRICS) private readonly metrics: QuarryMetrics,
  ) {}

  async accept(
    tenantId: string,
    documents: NewDocument[],
    idempotencyKey: string | null,
    requestedLane: Lane | null,
    options?: IngestJobOptions,
  ): Promise<UploadResult> {
    const jobId = uuidv7();
    const traceparent = currentOrNewTraceparent();
    // Large batches go to the bulk lane unless the client says otherwise (ADR 10).
    const lane =
      requestedLane ?? (documents.length > this.config.uploads.bulkThreshold ? 'bulk' : 'interactive');
    const result = await this.jobs.createIngestJob({
      id: jobId,
      tenantId,
      lane,
      idempotencyKey,
      traceparent,
      traceId: parseTraceparent(traceparent)?.traceId ?? null,
      documents,
      ...(options ? { options } : {}),
      outbox: documents.map((d) =>
        commandEnvelope(this.topology, 'ingestDocument', {
          v: 1,
          jobId,
          tenantId,
          documentId: d.id,
          traceparent,
          lane,
        }),
      ),
    });
    if (!result.created) return { job: result.job, created: false };
    this.metrics.counter('quarry_jobs_created_total').inc({ type: result.job.type, lane: result.job.lane });
    this.logger.info(
      { jobId, tenantId, documents: documents.length, source: documents[0]?.source ?? 'upload', traceparent },
      'job accepted',
    );
    return { job: result.job, created: true };
  }
}
