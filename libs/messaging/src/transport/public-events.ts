import { QuarryEvent, type Topology } from '@quarry/contracts';
import type { JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ensureWebhookConsumer } from '../provisioning';
import type { DurableStreamSource } from './dead-letter-stream';

/** A public event as its handler gets it: the event, or why it could not be read. */
export interface PublicEventMessage {
  subject: string;
  /** Its sequence in the events stream. */
  seq: number;
  /** Null when the body is not an event of the catalogue (logged and acknowledged by the handler). */
  event: QuarryEvent | null;
  problem?: string;
}

export function toPublicEventMessage(msg: JsMsg): PublicEventMessage {
  const base = { subject: msg.subject, seq: msg.info.streamSequence };
  let body: unknown;
  try {
    body = msg.json();
  } catch (error) {
    return { ...base, event: null, problem: `not JSON: ${String(error)}` };
  }
  const parsed = QuarryEvent.safeParse(body);
  return parsed.success
    ? { ...base, event: parsed.data }
    : { ...base, event: null, problem: parsed.error.message };
}

/** The events stream's source for the webhook dispatcher. */
export function publicEventsSource(nc: NatsConnection, t: Topology): DurableStreamSource {
  return {
    stream: t.eventsStream,
    durable: t.webhookConsumerName,
    ensure: () => ensureWebhookConsumer(nc, t),
    what: 'the events stream',
  };
}
