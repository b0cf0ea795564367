import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { createSafeFetcher } from '@quarry/safe-fetch';
import { WebhookDispatcher } from './webhook-dispatcher';
import { WEBHOOK_FETCHER, WebhookSender } from './webhook-sender';
import { WebhooksController } from './webhooks.controller';

/**
 * Webhooks (ADR 30): managed over HTTP, fed by the fan-out of public events (a message handler on the JetStream
 * transport), posted by the sender in every replica.
 */
@Module({
  providers: [
    {
      provide: WEBHOOK_FETCHER,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        createSafeFetcher({
          allowHosts: config.webhooks.allowHosts,
          maxBytes: 1024 * 1024,
          timeoutMs: config.webhooks.timeoutMs,
          maxRedirects: 0,
          userAgent: 'Quarry-Webhooks/1',
        }),
    },
    WebhookSender,
  ],
  controllers: [WebhooksController, WebhookDispatcher],
})
export class WebhooksModule {}
