import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { AnalysisRequest, QuarryError } from '@quarry/contracts';
import { JobsRepository } from '@quarry/persistence';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { CurrentTenant, RequireScope, type TenantContext } from '../auth/api-key.guard';
import { parseIdempotencyKey, Uuid } from '../http/request-schemas';
import { parseInput } from '../http/validation';
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
    summary: 'Start an analysis of indexed documents; answers at once with the job',
    description:
      'classify {labels, documentIds|filter, multiLabel}, summarize {documentIds|filter, length}, answer ' +
      '{question, filter}, report {question, filter, maxDocuments} (the long one: retrieving → scoring → writing), ' +
      'extract {schema, documentIds} (needs a language model: 422 llm_not_configured without one). With a language ' +
      'model configured (LLM_BASE_URL, LLM_MODEL) the result says method llm and carries the tokens used; without ' +
      'one it says embedding or extractive: labels by embedding similarity, answers and summaries quoted from the ' +
      'documents with citations.',
  })
  @ApiBody({ schema: z.toJSONSchema(AnalysisRequest, { io: 'input' }) as Record<string, unknown> })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Same key, same job' })
  @ApiResponse({ status: 202, description: 'Job accepted; Location points at it' })
  @ApiResponse({ status: 400, description: 'validation_failed' })
  @ApiResponse({ status: 422, description: 'llm_not_configured' })
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
    summary: 'An analysis job: status, progress {step, done, total, details}, request and result',
  })
  async get(@CurrentTenant() tenant: TenantContext, @Param('id') id: string) {
    const jobId = parseInput(Uuid, id, 'analysis id');
    const job = await this.jobs.getJob(tenant.tenantId, jobId);
    if (!job || job.type !== 'analyze') throw new QuarryError('not_found', `analysis ${jobId} not found`);
    return jobResponse(job);
  }
}
