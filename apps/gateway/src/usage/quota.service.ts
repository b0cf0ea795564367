import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { QuarryError } from '@quarry/contracts';
import { UsageRepository } from '@quarry/persistence';
import { exhaustedQuota, monthOf, quotaExceeded, quotasOf, type Quota, type QuotaPeriod } from './quotas';

const day = (at: Date): string => at.toISOString().slice(0, 10);

/**
 * Quotas at the edge (ADR 32): every route that accepts new work asks before it stores anything (an upload's bytes, a
 * crawler's pages, an analysis's job), with one indexed read of the tenant's month.
 */
@Injectable()
export class QuotaService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly usage: UsageRepository,
  ) {}

  /** Throws 429 quota_exceeded when the tenant has used up a quota of the current month. */
  async assertWithinQuota(tenantId: string): Promise<void> {
    const now = new Date();
    const { period, quotas } = await this.standing(tenantId, now);
    const over = exhaustedQuota(quotas);
    if (!over) return;
    throw quotaExceeded(over, period, now);
  }

  /** The tenant's quotas in the month `now` falls in, with what it used of them. */
  async standing(tenantId: string, now: Date): Promise<{ period: QuotaPeriod; quotas: Quota[] }> {
    const period = monthOf(now);
    const standing = await this.usage.quotaStanding(tenantId, day(period.start), day(period.end));
    // The key that brought the request named this tenant a moment ago: a tenant that is gone is a server fault.
    if (!standing) throw new QuarryError('internal', `tenant ${tenantId} not found for its quota check`);
    return { period, quotas: quotasOf(this.config.quotas, standing) };
  }
}
