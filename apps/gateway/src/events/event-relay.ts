import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import type { Topology } from '@quarry/contracts';
import { JetStreamPublisher, TOPOLOGY } from '@quarry/messaging';
import { EventsRepository, publishedEvent, type RelayPass, type StoredEvent } from '@quarry/persistence';
import { LOGGER, QUARRY_METRICS, type Logger, type QuarryMetrics } from '@quarry/telemetry';
import { Client } from 'pg';

/** Without a notification (a lost LISTEN connection), the relay still looks this often. */
const FALLBACK_POLL_MS = 1_000;
/** How often published events older than EVENTS_RETENTION_MS are deleted. */
const RETENTION_EVERY_MS = 60_000;
const BATCH = 500;
const CHANNEL = 'quarry_events';

/**
 * Publishes the events the database writes (ADR 30) to the events stream, in id order. Woken by the triggers'
 * NOTIFY; every gateway replica runs one, and a transaction-scoped advisory lock lets one publish at a time. A batch
 * is taken at most every EVENTS_RELAY_MIN_INTERVAL_MS, which is what coalesces a busy job's progress.
 */
@Injectable()
export class EventRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private running = false;
  private loop: Promise<void> | undefined;
  private listener: Client | undefined;
  private notified = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly events: EventsRepository,
    private readonly publisher: JetStreamPublisher,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(QUARRY_METRICS) private readonly metrics: Pick<QuarryMetrics, 'counter'>,
  ) {}

  onApplicationBootstrap(): void {
    this.running = true;
    void this.listen();
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.listener?.end().catch((error: unknown) => {
      this.logger.debug({ err: error }, 'closing the events listener failed');
    });
  }

  /** One pass: publishes what is waiting (used by the loop, and by tests that want the events out now). */
  async pass(): Promise<RelayPass> {
    const pass = await this.events.relay(BATCH, (batch) => this.publish(batch));
    const counter = this.metrics.counter('quarry_events_published_total');
    if (pass.published > 0) counter.inc({ outcome: 'published' }, pass.published);
    if (pass.coalesced > 0) counter.inc({ outcome: 'coalesced' }, pass.coalesced);
    return pass;
  }

  private async publish(batch: StoredEvent[]): Promise<(number | null)[]> {
    // Pipelined in order; the repository keeps everything from the first failure for the next pass.
    const results = await Promise.allSettled(
      batch.map((e) => {
        const m = publishedEvent(this.topology, e);
        return this.publisher.publish(m.subject, m.body, { msgId: m.msgId, headers: m.headers });
      }),
    );
    return results.map((r, i) => {
      if (r.status === 'fulfilled') return r.value.seq;
      this.logger.warn({ err: r.reason, eventId: batch[i]?.eventId }, 'event publish failed; will retry');
      return null;
    });
  }

  /** Deletes published events past their retention; the stream keeps its own copy for EVENTS_MAX_AGE_MS. */
  async prune(now = new Date()): Promise<number> {
    let deleted = 0;
    for (;;) {
      const n = await this.events.deletePublishedBefore(
        new Date(now.getTime() - this.config.events.retentionMs),
      );
      deleted += n;
      if (n < 5_000 || !this.running) return deleted;
    }
  }

  private async run(): Promise<void> {
    let last = 0;
    let pruned = 0;
    while (this.running) {
      if (Date.now() - pruned > RETENTION_EVERY_MS) {
        pruned = Date.now();
        await this.prune().catch((error: unknown) => {
          this.logger.warn({ err: error }, 'event retention failed; will retry');
        });
      }
      const wait = this.notified ? 0 : FALLBACK_POLL_MS;
      if (wait > 0) await this.sleep(wait);
      if (!this.running) break;
      // The pacing that coalesces progress: no two batches closer than the minimum interval.
      const since = Date.now() - last;
      if (since < this.config.events.relayMinIntervalMs) {
        await this.sleep(this.config.events.relayMinIntervalMs - since, { uninterruptible: true });
      }
      this.notified = false;
      last = Date.now();
      try {
        const pass = await this.pass();
        if (pass.more) this.notified = true;
      } catch (error) {
        this.logger.warn({ err: error }, 'event relay pass failed; will retry');
      }
    }
  }

  private async listen(): Promise<void> {
    while (this.running) {
      const client = new Client({ connectionString: this.config.database.url });
      try {
        await client.connect();
        client.on('notification', () => {
          this.notified = true;
          this.wake?.();
        });
        const ended = new Promise<void>((resolve) => {
          client.once('error', (error) => {
            this.logger.warn({ err: error }, 'events listener lost its connection; reconnecting');
            resolve();
          });
          client.once('end', () => resolve());
        });
        await client.query(`LISTEN ${CHANNEL}`);
        this.listener = client;
        // Anything written while it was not listening is picked up by the next pass.
        this.notified = true;
        this.wake?.();
        await ended;
      } catch (error) {
        this.logger.warn({ err: error }, 'events listener cannot connect; the relay polls meanwhile');
      }
      await client.end().catch((error: unknown) => {
        this.logger.debug({ err: error }, 'closing a lost events listener failed');
      });
      if (this.running) await this.sleep(FALLBACK_POLL_MS);
    }
  }

  private sleep(ms: number, options: { uninterruptible?: boolean } = {}): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      if (options.uninterruptible && this.running) return;
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
