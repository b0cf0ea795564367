import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { QuarryError } from '@quarry/contracts';
import { RateLimitsRepository, type GcraRate } from '@quarry/persistence';

/** RATE_LIMIT_PER_MINUTE and RATE_LIMIT_BURST as GCRA's interval and tolerance; null when the limit is off. */
export function gcraRate(perMinute: number, burst: number): GcraRate | null {
  if (perMinute <= 0) return null;
  const intervalMs = 60_000 / perMinute;
  return { intervalMs, toleranceMs: intervalMs * Math.max(1, burst) };
}

/** Each API key's request budget, counted in PostgreSQL so that every gateway replica draws from the same one. */
@Injectable()
export class RateLimiter {
  private readonly rate: GcraRate | null;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly limits: RateLimitsRepository,
  ) {
    this.rate = gcraRate(config.rateLimit.perMinute, config.rateLimit.burst);
  }

  /** Admits the key's request or throws 429 `rate_limited` saying when to come back. */
  async admit(keyId: string): Promise<void> {
    if (!this.rate) return;
    const decision = await this.limits.take(keyId, this.rate);
    if (decision.admitted) return;
    throw new QuarryError(
      'rate_limited',
      'too many requests with this API key; retry after the Retry-After delay',
      {
        retryAfterMs: decision.retryAfterMs,
      },
    );
  }
}
