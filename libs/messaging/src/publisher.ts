import type { Attributes } from '@opentelemetry/api';
import { QuarryError } from '@quarry/contracts';
import { jetstream, type JetStreamClient, type PubAck } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { QuarryHeaders } from './headers';
import { failSpan, MessagingAttributes, startProducerSpan, traceparentOf } from './tracing';

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
    return this.publishRaw(subject, body, options, jobAttributes(payload));
  }

  async publishRaw(
    subject: string,
    body: Uint8Array,
    options: PublishOptions,
    attributes: Attributes = {},
  ): Promise<PublishResult> {
    const traceparent = options.traceparent ?? options.headers?.[QuarryHeaders.traceparent];
    const span = startProducerSpan(subject, traceparent, {
      [MessagingAttributes.messageId]: options.msgId,
      [MessagingAttributes.bodySize]: body.byteLength,
      ...attributes,
    });
    const h = natsHeaders();
    // Header values are single-line by protocol; reasons quoted from errors often are not.
    for (const [k, v] of Object.entries(options.headers ?? {})) h.set(k, v.replace(/[\r\n]+/g, ' '));
    // The consumer's span becomes a child of this publish (set last: a copied header must not win).
    const sent = traceparentOf(span) ?? traceparent;
    if (sent) h.set(QuarryHeaders.traceparent, sent);
    let ack: PubAck;
    try {
      ack = await this.js.publish(subject, body, {
        msgID: options.msgId,
        headers: h,
        timeout: this.timeoutMs,
      });
    } catch (cause) {
      failSpan(span, cause, 'dependency_unavailable');
      span.end();
      throw new QuarryError('dependency_unavailable', `publish to ${subject} failed`, { cause });
    }
    span.setAttribute(MessagingAttributes.streamSequence, ack.seq);
    if (ack.duplicate) span.setAttribute(MessagingAttributes.duplicate, true);
    span.end();
    return { seq: ack.seq, duplicate: ack.duplicate };
  }
}

/** Job and document ids on a span let Jaeger find a job's messages by tag as well as by trace id. */
export function jobAttributes(payload: unknown): Attributes {
  if (typeof payload !== 'object' || payload === null) return {};
  const p = payload as Record<string, unknown>;
  const attributes: Attributes = {};
  if (typeof p['jobId'] === 'string') attributes[MessagingAttributes.jobId] = p['jobId'];
  if (typeof p['documentId'] === 'string') attributes[MessagingAttributes.documentId] = p['documentId'];
  if (typeof p['tenantId'] === 'string') attributes[MessagingAttributes.tenantId] = p['tenantId'];
  return attributes;
}
