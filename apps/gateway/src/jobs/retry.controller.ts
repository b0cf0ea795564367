import { Controller, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentTenant, RequireScope, type TenantContext } from '../auth/api-key.guard';
import { parseIdempotencyKey, Uuid } from '../http/request-schemas';
import { parseInput } from '../http/validation';
import { ACCEPTED_JOB_HEADERS, ApiErrors, ApiZodResponse } from '../http/openapi';
import { AcceptedRetry } from '../http/response-schemas';
import { acceptedJob } from '../http/views';
import { RetryService } from './retry.service';

@ApiTags('jobs')
@ApiBearerAuth()
@Controller('v1/jobs')
export class JobRetryController {
  constructor(private readonly retries: RetryService) {}

  @Post(':id/retry')
  @RequireScope('write')
  @HttpCode(202)
  @ApiOperation({
    operationId: 'retryJob',
    summary: 'Retry the failed documents of a finished job',
    description:
      'Creates a NEW ingest job (the finished job never changes) with a copy of each failed document of a ' +
      '`failed` or `completed_with_failures` job, starting again at ingest; `retryOfJobId` names the job retried.',
  })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Same key, same retry job' })
  @ApiZodResponse(202, AcceptedRetry, {
    description: 'Retry job accepted; Location points at it',
    headers: ACCEPTED_JOB_HEADERS,
  })
  @ApiErrors('not_found', 'conflict')
  async retry(
    @CurrentTenant() tenant: TenantContext,
    @Param('id') id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
  ) {
    const jobId = parseInput(Uuid, id, 'job id');
    const { job, created } = await this.retries.retryJob(
      tenant.tenantId,
      jobId,
      parseIdempotencyKey(idempotencyKey),
    );
    // Answered like POST /v1/documents, plus the job it retries.
    return { ...acceptedJob(job, created, reply), retryOfJobId: job.retryOfJobId };
  }
}
