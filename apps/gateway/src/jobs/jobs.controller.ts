import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { JobStatus, QuarryError } from '@quarry/contracts';
import { JobsRepository, MaintenanceRepository } from '@quarry/persistence';
import { CurrentTenant, RequireScope, type TenantContext } from '../auth/api-key.guard';
import { decodeCursor, encodeCursor, PageQuery, Uuid } from '../http/request-schemas';
import { parseInput } from '../http/validation';
import { jobResponse } from '../http/views';
import { CancelJobService } from './cancel-job.service';

const ListQuery = PageQuery.extend({ status: JobStatus.optional() }).strict();

@ApiTags('jobs')
@ApiBearerAuth()
@Controller('v1/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly cancellation: CancelJobService,
    private readonly maintenance: MaintenanceRepository,
  ) {}

  @Get()
  @RequireScope('read')
  @ApiOperation({ summary: "The tenant's jobs, newest first, with a status filter and cursor pagination" })
  @ApiQuery({ name: 'status', required: false, enum: JobStatus.options })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  @ApiQuery({ name: 'cursor', required: false, type: String })
  async list(@CurrentTenant() tenant: TenantContext, @Query() query: Record<string, unknown>) {
    const q = parseInput(ListQuery, query, 'query');
    const page = await this.jobs.listJobs(tenant.tenantId, {
      status: q.status,
      limit: q.limit,
      cursor: q.cursor ? decodeCursor(q.cursor) : undefined,
    });
    return { items: page.items.map(jobResponse), nextCursor: page.next ? encodeCursor(page.next) : null };
  }

  @Get(':id')
  @RequireScope('read')
  @ApiOperation({ summary: 'A job: status, progress, per-document status and errors, trace id' })
  async get(@CurrentTenant() tenant: TenantContext, @Param('id') id: string) {
    const jobId = parseInput(Uuid, id, 'job id');
    const job = await this.jobs.getJob(tenant.tenantId, jobId);
    if (!job) throw new QuarryError('not_found', `job ${jobId} not found`);
    // A quiet queued job is waiting its turn, not stalled: say how many queued jobs are ahead of it.
    const position = job.status === 'queued' ? await this.maintenance.queuePosition(job.id) : null;
    return { ...jobResponse(job), position };
  }

  @Post(':id/cancel')
  @RequireScope('write')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Cancel a queued or running job: it and its open documents become cancelled',
    description:
      'Workers stop its documents at the next page or batch boundary and store nothing more of them. ' +
      '409 conflict when the job has already finished.',
  })
  async cancel(@CurrentTenant() tenant: TenantContext, @Param('id') id: string) {
    const jobId = parseInput(Uuid, id, 'job id');
    return jobResponse(await this.cancellation.cancel(tenant.tenantId, jobId));
  }
}
