import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { Commands, LANES, type CommandName, type Topology } from '@quarry/contracts';
import {
  JetStreamPublisher,
  OnMaxDeliveries,
  QuarryHeaders,
  TOPOLOGY,
  WORK_QUEUE,
  type MaxDeliveriesAdvisory,
  type MessagePublisher,
  type WorkQueue,
} from '@quarry/messaging';
import { LOGGER, type Logger } from '@quarry/telemetry';

export type RescueOutcome = 'dead_lettered' | 'gone' | 'not_ours';

/**
 * NATS stops delivering a message once a consumer's `max_deliver` is reached and tells only through
 * this advisory; in a work-queue stream the message then stays forever. The consumer's own last
 * delivery normally dead-letters it (max_deliver is one above the handler's limit), so an advisory
 * means the worker died on that last delivery too. The watcher moves such a message to the DLQ, where
 * the recorder records it and fails its document, and removes it from the work queue.
 *
 * On NATS 2.9 the advisory is sent when a pull asks for messages after the last delivery's ack wait
 * ran out; workers pull all the time, so it comes within one ack wait. Advisories are core NATS:
 * one sent while no gateway runs is lost, and its message stays stranded until an operator acts.
 * The JetStream transport subscribes in a queue group, so one replica handles each advisory, and
 * retries a failed rescue a few times.
 */
@Controller()
export class MaxDeliveriesWatcher {
  private readonly consumers: Map<string, CommandName>;

  constructor(
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(WORK_QUEUE) private readonly queue: Pick<WorkQueue, 'get' | 'remove'>,
    @Inject(JetStreamPublisher) private readonly publisher: MessagePublisher,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.consumers = new Map(
      (Object.keys(Commands) as CommandName[]).flatMap((name) =>
        LANES.map((lane) => [topology.consumerName(name, lane), name] as const),
      ),
    );
  }

  /**
   * Publishes the stranded message to its command's DLQ subject (with the id the consumer would have
   * used, so a dead letter it already published is dropped as a duplicate), then removes it.
   */
  @OnMaxDeliveries()
  async rescue(@Payload() advisory: MaxDeliveriesAdvisory): Promise<RescueOutcome> {
    if (advisory.stream !== this.topology.jobsStream) return 'not_ours';
    return this.deadLetter({
      consumer: advisory.consumer,
      streamSeq: advisory.stream_seq,
      deliveries: advisory.deliveries,
      reason:
        `no outcome after ${advisory.deliveries} deliveries: the worker died or stalled on its last ` +
        `delivery (MAX_DELIVERIES advisory of consumer ${advisory.consumer})`,
    });
  }

  /**
   * Moves the message at `streamSeq` of the jobs stream, stranded at `consumer`'s delivery limit, to its command's
   * DLQ subject with code `delivery_exhausted`, then removes it from the work queue. The advisory's path, and the
   * periodic scan's for the advisories no gateway heard (ADR 33).
   */
  async deadLetter(stranded: {
    consumer: string;
    streamSeq: number;
    deliveries: number;
    reason: string;
  }): Promise<RescueOutcome> {
    const name = this.consumers.get(stranded.consumer);
    if (!name) return 'not_ours';
    const m = await this.queue.get(stranded.streamSeq);
    // Gone: acked, terminated or already rescued after all.
    if (!m) return 'gone';
    const originMsgId = m.header('Nats-Msg-Id') || `seq-${m.seq}`;
    await this.publisher.publish(this.topology.dlqSubject(name), m.data, {
      msgId: `dlq:${originMsgId}`,
      traceparent: m.header(QuarryHeaders.traceparent),
      headers: {
        [QuarryHeaders.dlqReason]: stranded.reason,
        [QuarryHeaders.dlqCode]: 'delivery_exhausted',
        [QuarryHeaders.originSubject]: m.subject,
        [QuarryHeaders.originMsgId]: originMsgId,
        [QuarryHeaders.deliveryCount]: String(stranded.deliveries),
      },
    });
    await this.queue.remove(m.seq);
    this.logger.error(
      { consumer: stranded.consumer, streamSeq: stranded.streamSeq, deliveries: stranded.deliveries },
      'stranded message dead-lettered',
    );
    return 'dead_lettered';
  }
}
