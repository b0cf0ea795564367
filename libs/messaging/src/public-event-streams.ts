import { Inject, Injectable } from '@nestjs/common';
import type { QuarryEvent, Topology } from '@quarry/contracts';
import { DeliverPolicy, jetstream, type ConsumerMessages } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { LOGGER, type Logger } from '@quarry/telemetry';
import { NATS_CONNECTION, TOPOLOGY } from './messaging.module';
import { toPublicEventMessage } from './transport/public-events';

/** An event read back from the events stream, with its sequence there (the SSE `id:`). */
export interface StreamedEvent {
  seq: number;
  /** Messages after this one that the reader's filter selects, when it was delivered. */
  pending: number;
  event: QuarryEvent;
}

/**
 * Reads public events back from the events stream through an ordered consumer of its own (ADR 30): from the
 * beginning, after a given sequence (a reconnecting client's Last-Event-ID), or only new ones. The stream, not the
 * gateway's memory, is what a client resumes from, so any replica serves a reconnect.
 */
@Injectable()
export class PublicEventStreams {
  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async open(
    filter: string,
    from: { afterSeq: number } | 'start' | 'new',
  ): Promise<{ pending: number; events: AsyncIterable<StreamedEvent>; close(): void }> {
    const start =
      from === 'start'
        ? { deliver_policy: DeliverPolicy.All }
        : from === 'new'
          ? { deliver_policy: DeliverPolicy.New }
          : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from.afterSeq + 1 };
    const consumer = await jetstream(this.nc).consumers.get(this.topology.eventsStream, {
      filter_subjects: filter,
      ...start,
    });
    const info = await consumer.info(true);
    const messages: ConsumerMessages = await consumer.consume({ max_messages: 256 });
    const logger = this.logger;
    async function* events(): AsyncIterable<StreamedEvent> {
      for await (const m of messages) {
        const read = toPublicEventMessage(m);
        if (!read.event) {
          logger.warn({ seq: read.seq, problem: read.problem }, 'skipping an unreadable event');
          continue;
        }
        yield { seq: read.seq, pending: m.info.pending, event: read.event };
      }
    }
    return { pending: info.num_pending, events: events(), close: () => messages.stop() };
  }
}
