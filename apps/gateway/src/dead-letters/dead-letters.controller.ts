import { Controller, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { QuarryError } from '@quarry/contracts';
import { DeadLettersRepository, type DeadLetterView } from '@quarry/persistence';
import { parseTraceparent } from '@quarry/telemetry';
import type { FastifyReply } from 'fastify';
import { CurrentTenant, RequireScope, type TenantContext } from '../auth/api-key.guard';
import { ACCEPTED_JOB_HEADERS, ApiErrors, ApiZodQuery, ApiZodResponse } from '../http/openapi';
import { DeadLetter, DeadLetterList, DeadLetterReplay } from '../http/response-schemas';
import { decodeCursor, encodeCursor, PageQuery, parseIdempotencyKey, Uuid } from '../http/request-schemas';
import { parseInput } from '../http/validation';
import { markJobAccepted } from '../http/views';
import { RetryService } from '../jobs/retry.service';

const ListQuery = PageQuery.extend({ jobId: Uuid.optional() }).strict();

/** The public shape of a dead letter; the tenant stays inside, the trace is given by its id. */
export function deadLetterResponse(d: DeadLetterView): DeadLetter {
  return {
    id: d.id,
    command: d.command,
    code: d.code,
    reason: d.reason,
    jobId: d.jobId,
    documentId: d.documentId,
    originSubject: d.originSubject,
    originMsgId: d.originMsgId,
    deliveryCount: d.deliveryCount,
    dlqStreamSeq: d.dlqStreamSeq,
    traceId: parseTraceparent(d.traceparent)?.traceId ?? null,
    payload: d.payload,
    createdAt: d.createdAt.toISOString(),
    replayedAt: d.replayedAt?.toISOString() ?? null,
    replayCount: d.replayCount,
    lastReplayJobId: d.lastReplayJobId,
  };
}

@ApiTags('dead letters')
@ApiBearerAuth()
@Controller('v1/dead-letters')
export class DeadLettersController {
  constructor(
    private readonly deadLetters: DeadLettersRepository,
    private readonly retries: RetryService,
  ) {}

  @Get()
  @RequireScope('read')
  @ApiOperation({
    operationId: 'listDeadLetters',
    summary: "The tenant's dead letters, newest first, with cursor pagination and a job filter",
  })
  @ApiZodQuery(ListQuery)
  @ApiZodResponse(200, DeadLetterList, { description: 'A page of dead letters' })
  async list(
    @CurrentTenant() tenant: TenantContext,
    @Query() query: Record<string, unknown>,
  ): Promise<DeadLetterList> {
    const q = parseInput(ListQuery, query, 'query');
    const page = await this.deadLetters.list(tenant.tenantId, {
      jobId: q.jobId,
      limit: q.limit,
      cursor: q.cursor ? decodeCursor(q.cursor) : undefined,
    });
    return {
      items: page.items.map(deadLetterResponse),
      nextCursor: page.next ? encodeCursor(page.next) : null,
    };
  }

  @Get(':id')
  @RequireScope('read')
  @ApiOperation({
    operationId: 'getDeadLetter',
    summary: 'A dead letter: command, reason and code, origin, delivery count, payload, replays',
  })
  @ApiZodResponse(200, DeadLetter, { description: 'The dead letter' })
  @ApiErrors('not_found')
  async get(@CurrentTenant() tenant: TenantContext, @Param('id') id: string): Promise<DeadLetter> {
    const deadLetterId = parseInput(Uuid, id, 'dead letter id');
    const d = await this.deadLetters.get(tenant.tenantId, deadLetterId);
    if (!d) throw new QuarryError('not_found', `dead letter ${deadLetterId} not found`);
    return deadLetterResponse(d);
  }

  @Post(':id/replay')
  @RequireScope('write')
  @HttpCode(202)
  @ApiOperation({
    operationId: 'replayDeadLetter',
    summary: 'Replay a dead letter as a new job',
    description:
      "Creates a NEW ingest job retrying the dead letter's job, with a copy of its document that starts " +
      'with the command that was dead-lettered (an index command reuses the extracted pages).',
  })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Same key, same replay job' })
  @ApiZodResponse(202, DeadLetterReplay, {
    description: 'The new job; Location points at it',
    headers: ACCEPTED_JOB_HEADERS,
  })
  @ApiErrors('not_found', 'conflict')
  async replay(
    @CurrentTenant() tenant: TenantContext,
    @Param('id') id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
  ) {
    const deadLetterId = parseInput(Uuid, id, 'dead letter id');
    const { job, created } = await this.retries.replayDeadLetter(
      tenant.tenantId,
      deadLetterId,
      parseIdempotencyKey(idempotencyKey),
    );
    markJobAccepted(job, created, reply);
    return { deadLetterId, jobId: job.id };
  }
}
