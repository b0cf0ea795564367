import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { JobStatus, QuarryError } from '@quarry/contracts';
import { JobsRepository } from '@quarry/persistence';
import { z } from 'zod';
import { CurrentTenant, RequireScope, type TenantContext } from '../auth/api-key.guard';
import { decodeCursor, encodeCursor, PageQuery, Uuid } from '../http/request-schemas';
import { parseInput } from '../http/validation';
import { ApiErrors, ApiZodQuery, ApiZodResponse } from '../http/openapi';
import { Job, JobDetail, JobList } from '../http/response-schemas';
import { jobResponse, jobStepResponse } from '../http/views';
import { CancelJobService } from './cancel-job.service';
import { JobLiveness } from './job-liveness';

const ListQuery = PageQuery.extend({
  status: JobStatus.optional(),
  /** Only the active jobs with no sign of life for STUCK_AFTER_MS, each with why (ADR 33). */
  stuck: z.enum(['true', 'false']).optional(),
}).strict();

@ApiTags('jobs')
@ApiBearerAuth()
@Controller('v1/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly cancellation: CancelJobService,
    private readonly liveness: JobLiveness,
  ) {}

  @Get()
  @RequireScope('read')
  @ApiOperation({
    operationId: 'listJobs',
    summary: "The tenant's jobs, newest first, with a status filter and cursor pagination",
    description:
      'With stuck=true only its queued or running jobs that showed no sign of life (heartbeat, progress) for ' +
      'STUCK_AFTER_MS, each with `stuck: {reason, since}` and `waiting`.',
  })
  @ApiZodQuery(ListQuery)
  @ApiZodResponse(200, JobList, { description: 'A page of jobs' })
  async list(
    @CurrentTenant() tenant: TenantContext,
    @Query() query: Record<string, unknown>,
  ): Promise<JobList> {
    const q = parseInput(ListQuery, query, 'query');
    if (q.stuck === 'true') return this.listStuck(tenant, q);
    const page = await this.jobs.listJobs(tenant.tenantId, {
      status: q.status,
      limit: q.limit,
      cursor: q.cursor ? decodeCursor(q.cursor) : undefined,
    });
    return { items: page.items.map(jobResponse), nextCursor: page.next ? encodeCursor(page.next) : null };
  }

  @Get(':id')
  @RequireScope('read')
  @ApiOperation({
    operationId: 'getJob',
    summary: 'A job: status, progress, per-document status and errors, trace id',
    description:
      'An active job also says why it waits (`waiting`: no_worker, tenant_capacity, queue or null), its ' +
      "`position` among the tenant's queued jobs of its lane (null unless queued) and an `eta` in seconds from " +
      "the tenant's measured step rates (null when unknown). `steps` gives each step's progress and timings.",
  })
  @ApiZodResponse(200, JobDetail, { description: 'The job' })
  @ApiErrors('not_found')
  async get(@CurrentTenant() tenant: TenantContext, @Param('id') id: string): Promise<JobDetail> {
    const jobId = parseInput(Uuid, id, 'job id');
    const job = await this.jobs.getJob(tenant.tenantId, jobId);
    if (!job) throw new QuarryError('not_found', `job ${jobId} not found`);
    const [{ position, waiting, eta }, steps] = await Promise.all([
      this.liveness.describe(job),
      this.jobs.jobSteps(tenant.tenantId, job.id),
    ]);
    return { ...jobResponse(job), position, waiting, eta, steps: steps.map((s) => jobStepResponse(s)) };
  }

  private async listStuck(tenant: TenantContext, q: z.infer<typeof ListQuery>): Promise<JobList> {
    if (q.status && q.status !== 'queued' && q.status !== 'running') {
      throw new QuarryError('validation_failed', `a stuck job is queued or running, never ${q.status}`);
    }
    const page = await this.liveness.listStuck(tenant.tenantId, {
      limit: q.limit,
      cursor: q.cursor ? decodeCursor(q.cursor) : undefined,
      status: q.status,
    });
    return {
      items: page.items.map((i) => ({
        ...jobResponse(i.job),
        waiting: i.waiting,
        stuck: { reason: i.stuck.reason, since: i.stuck.since.toISOString() },
      })),
      nextCursor: page.next ? encodeCursor(page.next) : null,
    };
  }

  @Post(':id/cancel')
  @RequireScope('write')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'cancelJob',
    summary: 'Cancel a queued or running job: it and its open documents become cancelled',
    description:
      'Workers stop its documents at the next page or batch boundary and store nothing more of them. ' +
      '409 conflict when the job has already finished.',
  })
  @ApiZodResponse(200, Job, { description: 'The cancelled job' })
  @ApiErrors('not_found', 'conflict')
  async cancel(@CurrentTenant() tenant: TenantContext, @Param('id') id: string): Promise<Job> {
    const jobId = parseInput(Uuid, id, 'job id');
    return jobResponse(await this.cancellation.cancel(tenant.tenantId, jobId));
  }
}
