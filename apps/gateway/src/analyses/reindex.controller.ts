import { Body, Controller, Headers, HttpCode, Inject, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { APP_CONFIG, embeddingModelId, type AppConfig } from '@quarry/config';
import { QuarryError, ReindexRequest } from '@quarry/contracts';
import type { FastifyReply } from 'fastify';
import { CurrentTenant, RequireScope, type TenantContext } from '../auth/api-key.guard';
import { ACCEPTED_JOB_HEADERS, ApiErrors, ApiZodBody, ApiZodResponse } from '../http/openapi';
import { parseIdempotencyKey } from '../http/request-schemas';
import { Job } from '../http/response-schemas';
import { parseInput } from '../http/validation';
import { WorkerJobAcceptor } from './worker-job-acceptor';

/**
 * `POST /v1/reindex`: a re-embed job (type `reindex`, bulk lane) that moves the tenant's chunks stored under other
 * models to the model the workers embed with, from the stored chunk texts — after an operator changed
 * EMBEDDING_PROVIDER or EMBEDDING_MODEL, say. Search uses the workers' model alone and says which in `model`.
 */
@ApiTags('analyses')
@ApiBearerAuth()
@Controller('v1/reindex')
export class ReindexController {
  constructor(
    private readonly acceptor: WorkerJobAcceptor,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @RequireScope('write')
  @HttpCode(202)
  @ApiOperation({
    operationId: 'reindex',
    summary: "Move the tenant's chunks to the workers' embedding model, without parsing anything again",
    description:
      '`model` defaults to the model the workers embed with, and must be it: configure the workers first. The ' +
      "job's result says {model, fromModels, documents, chunks}; GET /v1/jobs/:id follows it.",
  })
  @ApiZodBody(ReindexRequest, { example: {} })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Same key, same job' })
  @ApiZodResponse(202, Job, {
    description: 'Job accepted; Location points at it',
    headers: ACCEPTED_JOB_HEADERS,
  })
  @ApiErrors('quota_exceeded', 'unsupported_media_type')
  async reindex(
    @CurrentTenant() tenant: TenantContext,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Headers('idempotency-key') idempotencyKeyHeader: string | undefined,
  ) {
    const request = parseInput(ReindexRequest, body ?? {}, 'body');
    const current = embeddingModelId(this.config.embedding);
    const model = request.model ?? current;
    if (model !== current) {
      throw new QuarryError(
        'validation_failed',
        `model: the workers embed with ${current}, not ${model}; set EMBEDDING_PROVIDER and EMBEDDING_MODEL on the ` +
          'workers and the gateway, then reindex',
      );
    }
    return this.acceptor.accept(
      tenant,
      { type: 'reindex', model },
      parseIdempotencyKey(idempotencyKeyHeader),
      reply,
      'bulk',
    );
  }
}
