import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { UsageRepository, utcDaysOf } from '@quarry/persistence';
import { CurrentTenant, RequireScope, type TenantContext } from '../auth/api-key.guard';
import { monthOf } from './quotas';
import { QuotaService } from './quota.service';
import { ApiZodQuery, ApiZodResponse } from '../http/openapi';
import { UsageReport } from '../http/response-schemas';
import { MAX_RANGE_DAYS, UsageQuery, usageRange, usageReport } from './usage-report';

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
    operationId: 'getUsage',
    summary: "The tenant's usage over a time range: totals, per UTC day, and its monthly quotas",
    description:
      'documents, pagesParsed, pagesOcr, chunksEmbedded, embeddingTokens, llmTokens and storageBytes, counted once ' +
      'per job as the work was done (a redelivered step counts nothing twice). The range is [from, to), at most ' +
      `${MAX_RANGE_DAYS} days; by default the current month until now.`,
  })
  @ApiZodQuery(UsageQuery)
  @ApiZodResponse(200, UsageReport, { description: 'Totals, days (with groupBy=day) and the monthly quotas' })
  async get(
    @CurrentTenant() tenant: TenantContext,
    @Query() query: Record<string, unknown>,
  ): Promise<UsageReport> {
    const now = new Date();
    const range = usageRange(query, now, monthOf(now).start);
    const [rows, quota] = await Promise.all([
      this.usage.usageByDay(tenant.tenantId, range.from, range.to),
      this.quotas.standing(tenant.tenantId, now),
    ]);
    return usageReport(range, rows, range.groupBy === 'day' ? utcDaysOf(range.from, range.to) : [], quota);
  }
}
