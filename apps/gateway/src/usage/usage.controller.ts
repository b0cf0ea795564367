import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { UsageRepository, utcDaysOf } from '@quarry/persistence';
import { CurrentTenant, RequireScope, type TenantContext } from '../auth/api-key.guard';
import { monthOf } from './quotas';
import { QuotaService } from './quota.service';
import { MAX_RANGE_DAYS, usageRange, usageReport } from './usage-report';

@ApiTags('usage')
@ApiBearerAuth()
@Controller('v1/usage')
export class UsageController {
  constructor(
    private readonly usage: UsageRepository,
    private readonly quotas: QuotaService,
  ) {}

  @Get()
  @RequireScope('read')
  @ApiOperation({
    summary: "The tenant's usage over a time range: totals, per UTC day, and its monthly quotas",
    description:
      'documents, pagesParsed, pagesOcr, chunksEmbedded, embeddingTokens, llmTokens and storageBytes, counted once ' +
      'per job as the work was done (a redelivered step counts nothing twice). The range is [from, to), at most ' +
      `${MAX_RANGE_DAYS} days; by default the current month until now.`,
  })
  @ApiQuery({ name: 'from', required: false, description: 'ISO 8601 date or date-time (inclusive)' })
  @ApiQuery({ name: 'to', required: false, description: 'ISO 8601 date or date-time (exclusive)' })
  @ApiQuery({ name: 'groupBy', required: false, enum: ['day', 'none'] })
  @ApiResponse({
    status: 400,
    description: 'validation_failed: a malformed date, from after to, a range too long',
  })
  async get(@CurrentTenant() tenant: TenantContext, @Query() query: Record<string, unknown>) {
    const now = new Date();
    const range = usageRange(query, now, monthOf(now).start);
    const [rows, quota] = await Promise.all([
      this.usage.usageByDay(tenant.tenantId, range.from, range.to),
      this.quotas.standing(tenant.tenantId, now),
    ]);
    return usageReport(range, rows, range.groupBy === 'day' ? utcDaysOf(range.from, range.to) : [], quota);
  }
}
