import type { Topology } from '@quarry/contracts';
import type { Logger } from '@quarry/telemetry';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { z } from 'zod';
import { retryDelayMs } from '../handler';

/** `io.nats.jetstream.advisory.v1.max_deliver`, as NATS 2.9 sends it. */
export const MaxDeliveriesAdvisory = z.object({
  stream: z.string(),
  consumer: z.string(),
  stream_seq: z.number().int().positive(),
  deliveries: z.number().int().nonnegative(),
});
export type MaxDeliveriesAdvisory = z.infer<typeof MaxDeliveriesAdvisory>;

const ATTEMPTS = 5;

/**
 * Hands each MAX_DELIVERIES advisory of the jobs stream to one handler, in a queue group so that one replica
 * takes each. Advisories are core NATS (not stored): a failing handler is retried a few times with a backoff
 * here, and `stop` waits for the ones in flight.
 */
export class MaxDeliveriesListener {
  private sub: Subscription | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private stopping = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly topology: Topology,
    private readonly handler: (advisory: MaxDeliveriesAdvisory) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  get subject(): string {
    return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${this.topology.jobsStream}.*`;
  }

  start(): void {
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

  async stop(): Promise<void> {
    this.stopping = true;
    this.sub?.unsubscribe();
    await Promise.all([...this.inFlight]);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async handle(advisory: MaxDeliveriesAdvisory): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.handler(advisory);
        return;
      } catch (error) {
        if (attempt >= ATTEMPTS || this.stopping) {
          this.logger.error(
            { err: error, consumer: advisory.consumer, streamSeq: advisory.stream_seq },
            'could not handle a max-deliveries advisory; its message stays in the work queue',
          );
          return;
        }
        await new Promise((r) => setTimeout(r, retryDelayMs(attempt, 500, 5000)));
      }
    }
  }
}
