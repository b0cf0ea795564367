import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { OnPublicEvent, type PublicEventMessage } from '@quarry/messaging';
import { WebhooksRepository } from '@quarry/persistence';
import { LOGGER, type Logger } from '@quarry/telemetry';
import { WebhookSender } from './webhook-sender';

/**
 * The fan-out (ADR 30): every public event, pulled through the durable consumer all gateway replicas share, becomes
 * one delivery per webhook of its tenant that takes it. Resolving acks the event; a database error naks it and it
 * comes back (a repeat adds nothing: one delivery per webhook and event).
 */
@Controller()
export class WebhookDispatcher {
  constructor(
    private readonly webhooks: WebhooksRepository,
    private readonly sender: WebhookSender,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @OnPublicEvent()
  async dispatch(@Payload() m: PublicEventMessage): Promise<void> {
    if (!m.event) {
      this.logger.warn(
        { subject: m.subject, seq: m.seq, problem: m.problem },
        'ignoring an unreadable event',
      );
      return;
    }
    if ((await this.webhooks.enqueue(m.event)) > 0) this.sender.wake();
  }
}
