import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { AnalysisRequest, QuarryError } from '@quarry/contracts';
import { JobsRepository } from '@quarry/persistence';
import type { FastifyReply } from 'fastify';
import { CurrentTenant, RequireScope, type TenantContext } from '../auth/api-key.guard';
import { parseIdempotencyKey, Uuid } from '../http/request-schemas';
import { parseInput } from '../http/validation';
import { ACCEPTED_JOB_HEADERS, ApiErrors, ApiZodBody, ApiZodResponse } from '../http/openapi';
import { Job } from '../http/response-schemas';
import { jobResponse } from '../http/views';
import { WorkerJobAcceptor } from './worker-job-acceptor';

/**
 * `POST /v1/analyses`: an analysis job (classify, extract, summarize, answer, report) accepted at once and run by the
 * analysis worker; `GET /v1/analyses/:id` is the job with its request and result.
 */
@ApiTags('analyses')
@ApiBearerAuth()
@Controller('v1/analyses')
export class AnalysesController {
  constructor(
    private readonly acceptor: WorkerJobAcceptor,
    private readonly jobs: JobsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @RequireScope('write')
  @HttpCode(202)
  @ApiOperation({
    operationId: 'createAnalysis',
    summary: 'Start an analysis of indexed documents; answers at once with the job',
    description:
      'classify {labels, documentIds|filter, multiLabel}, summarize {documentIds|filter, length}, answer ' +
      '{question, filter}, report {question, filter, maxDocuments} (the long one: retrieving → scoring → writing), ' +
      'extract {schema, documentIds} (needs a language model: 422 llm_not_configured without one). With a language ' +
      'model configured (LLM_BASE_URL, LLM_MODEL) the result says method llm and carries the tokens used; without ' +
      'one it says embedding or extractive: labels by embedding similarity, answers and summaries quoted from the ' +
      'documents with citations.',
  })
  @ApiZodBody(AnalysisRequest, {
    example: { type: 'answer', question: 'How much is due for the dredging?', filter: { tags: ['finance'] } },
  })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Same key, same job' })
  @ApiZodResponse(202, Job, {
    description: 'Job accepted; Location points at it; GET /v1/analyses/{id} follows it',
    headers: ACCEPTED_JOB_HEADERS,
  })
  @ApiErrors('llm_not_configured', 'quota_exceeded', 'unsupported_media_type')
  async create(
    @CurrentTenant() tenant: TenantContext,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Headers('idempotency-key') idempotencyKeyHeader: string | undefined,
  ) {
    const input = parseInput(AnalysisRequest, body ?? {}, 'body');
    const idempotencyKey = parseIdempotencyKey(idempotencyKeyHeader);
    if (input.type === 'extract' && this.config.llm === undefined) {
      // Said before accepting work that cannot be done (ADR 28): the deployment has no language model.
      throw new QuarryError(
        'llm_not_configured',
        'extract needs a language model, and none is configured (LLM_BASE_URL, LLM_API_KEY, LLM_MODEL)',
      );
    }
    return this.acceptor.accept(tenant, input, idempotencyKey, reply);
  }

  @Get(':id')
  @RequireScope('read')
  @ApiOperation({
    operationId: 'getAnalysis',
    summary: 'An analysis job: status, progress {step, done, total, details}, request and result',
  })
  @ApiZodResponse(200, Job, { description: 'The analysis job, with its result once it succeeded' })
  @ApiErrors('not_found')
  async get(@CurrentTenant() tenant: TenantContext, @Param('id') id: string): Promise<Job> {
    const jobId = parseInput(Uuid, id, 'analysis id');
    const job = await this.jobs.getJob(tenant.tenantId, jobId);
    if (!job || job.type !== 'analyze') throw new QuarryError('not_found', `analysis ${jobId} not found`);
    return jobResponse(job);
  }
}
