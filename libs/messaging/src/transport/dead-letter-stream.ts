import type { Topology } from '@quarry/contracts';
import type { Logger } from '@quarry/telemetry';
import { jetstream, type Consumer, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { retryDelayMs } from '../handler';
import { QuarryHeaders } from '../headers';
import { dlqRecorderConsumerName, ensureDlqRecorderConsumer } from '../provisioning';
import { MessagingAttributes, withConsumerSpan } from '../tracing';

/** A message of the DLQ stream, independent of the NATS client that fetched it. */
export interface DeadLetterMessage {
  subject: string;
  /** Its sequence in the DLQ stream: the identity that makes recording idempotent. */
  seq: number;
  /** When it entered the DLQ stream. */
  time: Date;
  header(name: string): string | undefined;
  data: Uint8Array;
}

/** Messages fetched per pull; each is recorded in a few milliseconds, far inside the ack wait. */
const BATCH = 32;
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 60_000;

export function toDeadLetterMessage(msg: JsMsg): DeadLetterMessage {
  return {
    subject: msg.subject,
    seq: msg.info.streamSequence,
    time: msg.time,
    header: (name) => msg.headers?.get(name) || undefined,
    data: msg.data,
  };
}

/**
 * Feeds every message of the DLQ stream to one handler through the durable pull consumer that all gateway
 * replicas share (each message goes to one of them), inside a consumer span of the job's trace. The handler
 * resolving acks the message; throwing naks it with a backoff, so a dead letter that cannot be recorded now
 * (the database away) is recorded later, never dropped.
 */
export class DeadLetterStreamConsumer {
  private running = false;
  private loop: Promise<void> | undefined;
  private currentFetch: { stop(): void } | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly topology: Topology,
    private readonly handler: (message: DeadLetterMessage) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.currentFetch?.stop();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let consumer: Consumer | undefined;
    for (let attempt = 1; this.running && !consumer; attempt++) {
      try {
        await ensureDlqRecorderConsumer(this.nc, this.topology);
        consumer = await jetstream(this.nc).consumers.get(
          this.topology.dlqStream,
          dlqRecorderConsumerName(this.topology),
        );
      } catch (error) {
        // The app serves without it; dead letters wait in their stream until this succeeds.
        this.logger.error({ err: error, attempt }, 'cannot attach to the DLQ stream');
        await this.pause(retryDelayMs(attempt, RETRY_BASE_MS, RETRY_MAX_MS));
      }
    }
    while (this.running && consumer) {
      try {
        const batch = await consumer.fetch({ max_messages: BATCH, expires: 5000 });
        this.currentFetch = batch;
        for await (const msg of batch) {
          if (!this.running) {
            msg.nak(0); // hand it to another replica at once
            continue;
          }
          await this.traced(msg);
        }
      } catch (error) {
        if (!this.running) break;
        this.logger.warn({ err: error }, 'DLQ pull failed; retrying');
        await this.pause(RETRY_BASE_MS);
      } finally {
        this.currentFetch = undefined;
      }
    }
  }

  private traced(msg: JsMsg): Promise<void> {
    return withConsumerSpan(
      msg.subject,
      msg.headers?.get(QuarryHeaders.traceparent) || undefined,
      {
        [MessagingAttributes.consumerGroup]: dlqRecorderConsumerName(this.topology),
        [MessagingAttributes.deliveryCount]: msg.info.deliveryCount,
        [MessagingAttributes.streamSequence]: msg.info.streamSequence,
      },
      () => this.handleAndSettle(msg),
    );
  }

  private async handleAndSettle(msg: JsMsg): Promise<void> {
    try {
      await this.handler(toDeadLetterMessage(msg));
      msg.ack();
    } catch (error) {
      const delay = retryDelayMs(msg.info.deliveryCount, RETRY_BASE_MS, RETRY_MAX_MS);
      this.logger.error(
        { err: error, dlqSeq: msg.info.streamSequence, retryInMs: delay },
        'could not handle dead letter; will retry',
      );
      msg.nak(delay);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
