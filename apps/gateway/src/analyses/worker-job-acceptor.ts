import { Inject, Injectable } from '@nestjs/common';
import { uuidv7, type Lane, type WorkerJobInput } from '@quarry/contracts';
import { AnalysesRepository } from '@quarry/persistence';
import {
  currentOrNewTraceparent,
  LOGGER,
  parseTraceparent,
  QUARRY_METRICS,
  type Logger,
  type QuarryMetrics,
} from '@quarry/telemetry';
import type { FastifyReply } from 'fastify';
import type { TenantContext } from '../auth/api-key.guard';
import { jobResponse, markJobAccepted } from '../http/views';
import { QuotaService } from '../usage/quota.service';

/**
 * Accepts a job the analysis worker runs (an analysis, a re-embed): the job, its command in the outbox, the
 * Location and replay headers, the metric and the log line — the same for every route that starts one.
 */
@Injectable()
export class WorkerJobAcceptor {
  constructor(
    private readonly analyses: AnalysesRepository,
    private readonly quotas: QuotaService,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(QUARRY_METRICS) private readonly metrics: QuarryMetrics,
  ) {}

  async accept(
    tenant: TenantContext,
    input: WorkerJobInput,
    idempotencyKey: string | null,
    reply: FastifyReply,
    lane?: Lane,
  ) {
    // A tenant past a monthly quota starts no new work (ADR 32); 429 before the job exists.
    await this.quotas.assertWithinQuota(tenant.tenantId);
    const traceparent = currentOrNewTraceparent();
    const { job, created } = await this.analyses.createAnalysisJob({
      id: uuidv7(),
      tenantId: tenant.tenantId,
      input,
      idempotencyKey,
      traceparent,
      traceId: parseTraceparent(traceparent)?.traceId ?? null,
      ...(lane ? { lane } : {}),
    });
    markJobAccepted(job, created, reply);
    if (created) {
      this.metrics.counter('quarry_jobs_created_total').inc({ type: job.type, lane: job.lane });
      this.logger.info({ jobId: job.id, type: job.type, request: input.type, traceparent }, 'job accepted');
    }
    return jobResponse(job);
  }
}
