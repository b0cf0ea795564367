import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { Commands, LANES, type CommandName, type Topology } from '@quarry/contracts';
import {
  JetStreamPublisher,
  NATS_CONNECTION,
  QuarryHeaders,
  retryDelayMs,
  TOPOLOGY,
  type MessagePublisher,
} from '@quarry/messaging';
import { LOGGER, type Logger } from '@quarry/telemetry';
import { JetStreamApiError, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { z } from 'zod';

/** `io.nats.jetstream.advisory.v1.max_deliver`, as NATS 2.9 sends it. */
export const MaxDeliveriesAdvisory = z.object({
  stream: z.string(),
  consumer: z.string(),
  stream_seq: z.number().int().positive(),
  deliveries: z.number().int().nonnegative(),
});
export type MaxDeliveriesAdvisory = z.infer<typeof MaxDeliveriesAdvisory>;

/** A message still held by the work-queue stream. */
export interface StoredCommand {
  subject: string;
  seq: number;
  data: Uint8Array;
  header(name: string): string | undefined;
}

/** Port over the jobs stream: read a message by sequence, remove it. */
export interface WorkQueueStore {
  get(seq: number): Promise<StoredCommand | null>;
  remove(seq: number): Promise<void>;
}

export type RescueOutcome = 'dead_lettered' | 'gone' | 'not_ours';

const ATTEMPTS = 5;

function isNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && (error.code === 404 || /not found/i.test(error.message));
}

export function natsWorkQueue(nc: NatsConnection, stream: string): WorkQueueStore {
  let manager: Promise<JetStreamManager> | undefined;
  const jsm = () =>
    (manager ??= jetstreamManager(nc).catch((error: unknown) => {
      manager = undefined;
      throw error;
    }));
  return {
    async get(seq) {
      try {
        const m = await (await jsm()).streams.getMessage(stream, { seq });
        if (!m) return null;
        return { subject: m.subject, seq: m.seq, data: m.data, header: (n) => m.header.get(n) || undefined };
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    },
    async remove(seq) {
      try {
        await (await jsm()).streams.deleteMessage(stream, seq, false);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    },
  };
}

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
 * Replicas share a queue group, so one of them handles each advisory.
 */
@Injectable()
export class MaxDeliveriesWatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private sub: Subscription | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly consumers: Map<string, CommandName>;
  private stopping = false;
  private readonly queue: WorkQueueStore;

  constructor(
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(JetStreamPublisher) private readonly publisher: MessagePublisher,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.consumers = new Map(
      (Object.keys(Commands) as CommandName[]).flatMap((name) =>
        LANES.map((lane) => [topology.consumerName(name, lane), name] as const),
      ),
    );
    this.queue = natsWorkQueue(nc, topology.jobsStream);
  }

  get subject(): string {
    return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${this.topology.jobsStream}.*`;
  }

  onApplicationBootstrap(): void {
    this.sub = this.nc.subscribe(this.subject, {
      queue: `${this.topology.namespace}_max_deliveries`,
      callback: (error, msg) => {
        if (error) {
          this.logger.warn({ err: error }, 'max-deliveries advisory subscription error');
          return;
        }
        const parsed = MaxDeliveriesAdvisory.safeParse(msg.json());
        if (!parsed.success) {
          this.logger.warn({ subject: msg.subject }, 'ignoring an unreadable max-deliveries advisory');
          return;
        }
        this.track(this.handle(parsed.data));
      },
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.sub?.unsubscribe();
    await Promise.all([...this.inFlight]);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async handle(advisory: MaxDeliveriesAdvisory): Promise<void> {
    const log = this.logger.child({ consumer: advisory.consumer, streamSeq: advisory.stream_seq });
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await this.rescue(advisory);
        if (outcome === 'dead_lettered')
          log.error({ deliveries: advisory.deliveries }, 'stranded message dead-lettered');
        return;
      } catch (error) {
        if (attempt >= ATTEMPTS || this.stopping) {
          log.error({ err: error }, 'could not dead-letter a stranded message; it stays in the work queue');
          return;
        }
        await new Promise((r) => setTimeout(r, retryDelayMs(attempt, 500, 5000)));
      }
    }
  }

  /**
   * Publishes the stranded message to its command's DLQ subject (with the id the consumer would have
   * used, so a dead letter it already published is dropped as a duplicate), then removes it.
   */
  async rescue(advisory: MaxDeliveriesAdvisory, queue = this.queue): Promise<RescueOutcome> {
    const name = this.consumers.get(advisory.consumer);
    if (advisory.stream !== this.topology.jobsStream || !name) return 'not_ours';
    const m = await queue.get(advisory.stream_seq);
    // Gone: acked, terminated or already rescued after all.
    if (!m) return 'gone';
    const originMsgId = m.header('Nats-Msg-Id') || `seq-${m.seq}`;
    await this.publisher.publish(this.topology.dlqSubject(name), m.data, {
      msgId: `dlq:${originMsgId}`,
      traceparent: m.header(QuarryHeaders.traceparent),
      headers: {
        [QuarryHeaders.dlqReason]:
          `no outcome after ${advisory.deliveries} deliveries: the worker died or stalled on its last ` +
          `delivery (MAX_DELIVERIES advisory of consumer ${advisory.consumer})`,
        [QuarryHeaders.dlqCode]: 'delivery_exhausted',
        [QuarryHeaders.originSubject]: m.subject,
        [QuarryHeaders.originMsgId]: originMsgId,
        [QuarryHeaders.deliveryCount]: String(advisory.deliveries),
      },
    });
    await queue.remove(m.seq);
    return 'dead_lettered';
  }
}
