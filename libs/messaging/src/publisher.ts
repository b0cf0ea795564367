import { QuarryError } from '@quarry/contracts';
import { jetstream, type JetStreamClient, type PubAck } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { QuarryHeaders } from './headers';

export interface PublishOptions {
  /** Deterministic id: JetStream drops a second publish with the same id inside the duplicate window. */
  msgId: string;
  traceparent?: string | undefined;
  headers?: Record<string, string>;
}

export interface PublishResult {
  seq: number;
  duplicate: boolean;
}

/** Port used by the outbox relay and the dead-letter path; the NATS implementation is below. */
export interface MessagePublisher {
  publish(subject: string, payload: unknown, options: PublishOptions): Promise<PublishResult>;
}

export class JetStreamPublisher implements MessagePublisher {
  private readonly js: JetStreamClient;

  constructor(
    nc: NatsConnection,
    private readonly timeoutMs = 5000,
  ) {
    this.js = jetstream(nc, { timeout: timeoutMs });
  }

  async publish(subject: string, payload: unknown, options: PublishOptions): Promise<PublishResult> {
    const body = payload instanceof Uint8Array ? payload : new TextEncoder().encode(JSON.stringify(payload));
    return this.publishRaw(subject, body, options);
  }

  async publishRaw(subject: string, body: Uint8Array, options: PublishOptions): Promise<PublishResult> {
    const h = natsHeaders();
    if (options.traceparent) h.set(QuarryHeaders.traceparent, options.traceparent);
    // Header values are single-line by protocol; reasons quoted from errors often are not.
    for (const [k, v] of Object.entries(options.headers ?? {})) h.set(k, v.replace(/[\r\n]+/g, ' '));
    let ack: PubAck;
    try {
      ack = await this.js.publish(subject, body, {
        msgID: options.msgId,
        headers: h,
        timeout: this.timeoutMs,
      });
    } catch (cause) {
      throw new QuarryError('dependency_unavailable', `publish to ${subject} failed`, { cause });
    }
    return { seq: ack.seq, duplicate: ack.duplicate };
  }
}
