import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { QuarryError } from '@quarry/contracts';
import { WebhooksRepository, type AttemptResult, type ClaimedDelivery } from '@quarry/persistence';
import type { SafeFetcher } from '@quarry/safe-fetch';
import { LOGGER, QUARRY_METRICS, type Logger, type QuarryMetrics } from '@quarry/telemetry';
import { signedHeaders } from './webhook-signature';

export const WEBHOOK_FETCHER = Symbol('WEBHOOK_FETCHER');

/** How often an idle sender looks for due deliveries (retries come due without a wake-up). */
const IDLE_POLL_MS = 500;
/** The answer's first characters kept with an attempt. */
const KEPT_RESPONSE_BYTES = 1000;

/**
 * Posts due webhook deliveries (ADR 30): claims a batch (each held by a lease, so no two replicas post one at the
 * same time), signs and posts them through the SSRF guard, and records every attempt with what follows from it.
 */
@Injectable()
export class WebhookSender implements OnApplicationBootstrap, OnApplicationShutdown {
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;

  constructor(
    private readonly webhooks: WebhooksRepository,
    @Inject(WEBHOOK_FETCHER) private readonly fetcher: SafeFetcher,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(QUARRY_METRICS) private readonly metrics: Pick<QuarryMetrics, 'counter'>,
  ) {}

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.running = false;
    this.wakeUp?.();
    await this.loop;
  }

  /** New deliveries are due: look now rather than at the next poll. */
  wake(): void {
    this.wakeUp?.();
  }

  /** One round: claims what is due and posts it; returns how many were posted. */
  async round(): Promise<number> {
    const { timeoutMs, concurrency } = this.config.webhooks;
    const claimed = await this.webhooks.claimDue(concurrency, timeoutMs * 2 + 5_000);
    await Promise.all(claimed.map((d) => this.attempt(d)));
    return claimed.length;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let posted = 0;
      try {
        posted = await this.round();
      } catch (error) {
        this.logger.warn({ err: error }, 'webhook round failed; will retry');
      }
      if (posted === 0 && this.running) await this.idle();
    }
  }

  private async attempt(d: ClaimedDelivery): Promise<void> {
    const body = JSON.stringify(d.payload);
    const headers = signedHeaders(d.secrets, d.eventId, new Date(), body);
    const started = performance.now();
    let result: AttemptResult;
    try {
      const answer = await this.fetcher.post(d.url, body, { headers, maxResponseBytes: KEPT_RESPONSE_BYTES });
      result = {
        ok: answer.status >= 200 && answer.status < 300,
        latencyMs: performance.now() - started,
        responseStatus: answer.status,
        responseBody: answer.body,
        error: null,
      };
    } catch (error) {
      // The SSRF guard refusing the address (it may resolve elsewhere now), a timeout, a refused connection.
      result = {
        ok: false,
        latencyMs: performance.now() - started,
        responseStatus: null,
        responseBody: null,
        error: error instanceof QuarryError ? `${error.code}: ${error.message}` : String(error),
      };
    }
    const outcome = result.ok ? 'ok' : result.responseStatus === null ? 'unreachable' : 'http_error';
    this.metrics.counter('quarry_webhook_attempts_total').inc({ result: outcome });
    try {
      const { disabled } = await this.webhooks.recordAttempt(d, result, {
        scheduleMs: this.config.webhooks.retryScheduleMs,
        disableAfterMs: this.config.webhooks.disableAfterMs,
      });
      if (disabled) this.logger.warn({ webhookId: d.webhookId }, 'webhook disabled after a day of failures');
    } catch (error) {
      // Its lease runs out and it is posted again: at least once, never lost.
      this.logger.warn({ err: error, deliveryId: d.id }, 'could not record a webhook attempt');
    }
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, IDLE_POLL_MS);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
