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

/** Messages fetched per pull; each is handled in a few milliseconds, far inside the ack wait. */
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

/** Which durable consumer a DurableStreamConsumer pulls from, and how to make sure it exists. */
export interface DurableStreamSource {
  stream: string;
  durable: string;
  /** Creates the durable consumer when it is missing (every replica may call it at boot). */
  ensure(): Promise<void>;
  /** For logs: 'the DLQ stream', 'the events stream'. */
  what: string;
}

/**
 * Feeds every message of a stream to one handler through a durable pull consumer that all replicas share (each
 * message goes to one of them), inside a consumer span of the job's trace. The handler resolving acks the message;
 * throwing naks it with a backoff, so a message that cannot be handled now (the database away) is handled later,
 * never dropped. The DLQ recorder and the webhook dispatcher pull this way.
 */
export class DurableStreamConsumer {
  private running = false;
  private loop: Promise<void> | undefined;
  private currentFetch: { stop(): void } | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly source: DurableStreamSource,
    private readonly handler: (message: JsMsg) => Promise<void>,
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
        await this.source.ensure();
        consumer = await jetstream(this.nc).consumers.get(this.source.stream, this.source.durable);
      } catch (error) {
        // The app serves without it; the messages wait in their stream until this succeeds.
        this.logger.error({ err: error, attempt }, `cannot attach to ${this.source.what}`);
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
        this.logger.warn({ err: error }, `pull from ${this.source.what} failed; retrying`);
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
        [MessagingAttributes.consumerGroup]: this.source.durable,
        [MessagingAttributes.deliveryCount]: msg.info.deliveryCount,
        [MessagingAttributes.streamSequence]: msg.info.streamSequence,
      },
      () => this.handleAndSettle(msg),
    );
  }

  private async handleAndSettle(msg: JsMsg): Promise<void> {
    try {
      await this.handler(msg);
      msg.ack();
    } catch (error) {
      const delay = retryDelayMs(msg.info.deliveryCount, RETRY_BASE_MS, RETRY_MAX_MS);
      this.logger.error(
        { err: error, stream: this.source.stream, seq: msg.info.streamSequence, retryInMs: delay },
        'could not handle a message; will retry',
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

/** The DLQ stream's source: the gateway's recorder consumer. */
export function deadLetterStreamSource(nc: NatsConnection, t: Topology): DurableStreamSource {
  return {
    stream: t.dlqStream,
    durable: dlqRecorderConsumerName(t),
    ensure: () => ensureDlqRecorderConsumer(nc, t),
    what: 'the DLQ stream',
  };
}
