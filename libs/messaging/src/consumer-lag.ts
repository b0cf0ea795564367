import type { Logger, QuarryMetrics } from '@quarry/telemetry';
import { jetstreamManager, type ConsumerInfo, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

/** One durable consumer's backlog, as JetStream reports it. */
export interface ConsumerLag {
  stream: string;
  consumer: string;
  /** Not yet delivered: the lag a scaler (KEDA) acts on. */
  pending: number;
  ackPending: number;
  redelivered: number;
  /** Pull requests waiting for messages: an idle worker always has one (ADR 33). */
  pullsWaiting: number;
  /** The consumer's last delivery or acknowledgement; null when it never had one. */
  lastActiveAt: Date | null;
}

/** Where lags come from: JetStream (below), or a fake in unit tests. */
export type ConsumerLagSource = () => Promise<ConsumerLag[]>;

/**
 * The durable consumers of `stream` with their lag, one JetStream request per consumer named (or one
 * listing of the stream for all of them).
 */
export function jetStreamConsumerLag(
  nc: NatsConnection,
  options: {
    stream: string;
    /** Durable names to report; without it, every durable consumer of the stream. */
    consumers?: readonly string[];
    timeoutMs?: number;
  },
): ConsumerLagSource {
  let manager: Promise<JetStreamManager> | undefined;
  return async () => {
    // No account check: it is one more request, and a scrape only needs the consumers' info.
    manager ??= jetstreamManager(nc, { timeout: options.timeoutMs ?? 1000, checkAPI: false }).catch(
      (error: unknown) => {
        manager = undefined; // ask again on the next scrape
        throw error;
      },
    );
    const jsm = await manager;
    const { stream, consumers } = options;
    let infos: ConsumerInfo[];
    if (consumers) {
      infos = await Promise.all(consumers.map((c) => jsm.consumers.info(stream, c)));
    } else {
      infos = [];
      for await (const info of jsm.consumers.list(stream)) if (info.config.durable_name) infos.push(info);
    }
    return infos.map((i) => ({
      stream: i.stream_name,
      consumer: i.name,
      pending: i.num_pending,
      ackPending: i.num_ack_pending,
      redelivered: i.num_redelivered,
      pullsWaiting: i.num_waiting,
      lastActiveAt: latest(i.delivered.last_active, i.ack_floor.last_active),
    }));
  };
}

/**
 * The later of two `last_active` fields of a consumer's info: the server sends an RFC 3339 time (the client's type
 * says nanoseconds), and leaves it out when nothing happened yet.
 */
function latest(...values: unknown[]): Date | null {
  const times = values
    .map((v) => (typeof v === 'string' ? Date.parse(v) : Number.NaN))
    .filter((t) => Number.isFinite(t) && t > 0);
  return times.length > 0 ? new Date(Math.max(...times)) : null;
}

/**
 * Reads consumer lag at scrape time, gently. At most one read is in flight, and a read younger than
 * `cacheMs` is reused, whatever the scrape rate; a read fails after `timeoutMs` when NATS does not
 * answer, so a scrape never waits on an outage. Failures are not cached: the next scrape asks again.
 */
export class ConsumerLagReader {
  private cached: { at: number; lags: ConsumerLag[] } | undefined;
  private reading: Promise<ConsumerLag[]> | undefined;

  constructor(
    private readonly source: ConsumerLagSource,
    private readonly options: { timeoutMs?: number; cacheMs?: number } = {},
    private readonly now: () => number = Date.now,
  ) {}

  read(): Promise<ConsumerLag[]> {
    const cacheMs = this.options.cacheMs ?? 2000;
    if (this.cached && this.now() - this.cached.at < cacheMs) return Promise.resolve(this.cached.lags);
    this.reading ??= this.readWithTimeout()
      .then((lags) => {
        this.cached = { at: this.now(), lags };
        return lags;
      })
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }

  private async readWithTimeout(): Promise<ConsumerLag[]> {
    const timeoutMs = this.options.timeoutMs ?? 1000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`JetStream did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.source(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Publishes the reader's lags as the `quarry_consumer_*` gauges on every scrape. When JetStream cannot
 * be read the gauges are emptied (a stale number would look like a real one) and the rest of the
 * scrape goes on; the failure is logged once when it starts and once when it ends.
 */
export function collectConsumerLag(
  metrics: Pick<QuarryMetrics, 'gauge' | 'addCollector'>,
  reader: Pick<ConsumerLagReader, 'read'>,
  logger: Logger,
): void {
  const pending = metrics.gauge('quarry_consumer_pending_messages');
  const ackPending = metrics.gauge('quarry_consumer_ack_pending_messages');
  const redelivered = metrics.gauge('quarry_consumer_redelivered_messages');
  let failing = false;
  metrics.addCollector('jetstream-consumer-lag', async () => {
    let lags: ConsumerLag[];
    try {
      lags = await reader.read();
    } catch (error) {
      if (!failing) logger.warn({ err: error }, 'cannot read consumer lag from JetStream; series omitted');
      failing = true;
      for (const g of [pending, ackPending, redelivered]) g.reset();
      return;
    }
    if (failing) logger.info('consumer lag readable again');
    failing = false;
    // Reset and set in one synchronous step, so a concurrent scrape never renders a half-filled gauge.
    for (const g of [pending, ackPending, redelivered]) g.reset();
    for (const lag of lags) {
      const labels = { stream: lag.stream, consumer: lag.consumer };
      pending.set(labels, lag.pending);
      ackPending.set(labels, lag.ackPending);
      redelivered.set(labels, lag.redelivered);
    }
  });
}
