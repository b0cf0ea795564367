import {
  Inject,
  Injectable,
  Module,
  type InjectionToken,
  type DynamicModule,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { LANES, topology, type CommandName, type Lane, type Topology } from '@quarry/contracts';
import { LOGGER, QUARRY_METRICS, Readiness, type Logger, type QuarryMetrics } from '@quarry/telemetry';
import type { NatsConnection } from '@nats-io/transport-node';
import { NatsBlobStore } from './blob-store';
import { connectToNats } from './connection';
import { collectConsumerLag, ConsumerLagReader, jetStreamConsumerLag } from './consumer-lag';
import { OutboxRelay, type OutboxStore } from './outbox-relay';
import { JetStreamPublisher } from './publisher';
import { JetStreamClient } from './transport/jetstream.client';
import { JetStreamServer } from './transport/jetstream.server';
import type { ServiceName } from './transport/patterns';
import { jetStreamWorkQueue, WORK_QUEUE } from './work-queue';

export const NATS_CONNECTION = Symbol('NATS_CONNECTION');
export const TOPOLOGY = Symbol('TOPOLOGY');
export const BLOB_STORE = Symbol('BLOB_STORE');
/**
 * A ConsumerLagReader of every durable consumer of the jobs stream, cached for a second: how the gateway tells a job
 * whose commands nobody consumes (ADR 33).
 */
export const JOBS_CONSUMER_LAG = Symbol('JOBS_CONSUMER_LAG');
const MESSAGING_OPTIONS = Symbol('MESSAGING_OPTIONS');

export interface MessagingModuleOptions {
  /** Connection name shown by the NATS server. */
  appName: string;
  /**
   * Commands this app consumes, with the concurrency of each lane (ADR 10). Exactly one `@OnCommand` handler
   * each must exist; it serves both lanes. The app runs them by connecting JetStreamServer as its transport.
   */
  consumes: Partial<Record<CommandName, Record<Lane, number>>>;
  /** Request/reply services this app answers (one `@OnRequest` handler each). */
  serves?: readonly ServiceName[];
  /** Records the DLQ stream (an `@OnDeadLetterMessage` handler) and rescues stranded messages (`@OnMaxDeliveries`). */
  watchesDeadLetters?: boolean;
  /** Its transport feeds every public event to one `@OnPublicEvent` handler (the webhook dispatcher's fan-out). */
  dispatchesEvents?: boolean;
  /** Provider token of the app's OutboxStore implementation; the module builds the relay on it. */
  outboxStore: InjectionToken;
  /**
   * Errors that mean a dependency is down (the database), besides `dependency_unavailable`: consumers
   * hold their messages through them instead of spending deliveries.
   */
  isOutage?: (error: unknown) => boolean;
  /**
   * Whose lag `/metrics` reports: `own` (default) the durable consumers of the commands this app
   * consumes, both lanes; `all` every durable consumer of the jobs stream (the gateway's overview).
   */
  consumerLag?: 'own' | 'all';
}

/**
 * Drains the NATS connection last, after the transport stopped its consumers and the relay settled, so nothing
 * published during shutdown is lost in the client's buffer.
 */
@Injectable()
export class NatsConnectionLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.nc.drain().catch((error: unknown) => this.logger.warn({ err: error }, 'nats drain failed'));
  }
}

/**
 * What the messaging layer adds to the process's observability: `/readyz` checks that NATS answers,
 * and `/metrics` reads the lag of the consumers this app cares about from JetStream.
 */
@Injectable()
export class MessagingObservability implements OnModuleInit {
  constructor(
    @Inject(MESSAGING_OPTIONS) private readonly options: MessagingModuleOptions,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(QUARRY_METRICS) private readonly metrics: QuarryMetrics,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly readiness: Readiness,
  ) {}

  onModuleInit(): void {
    this.readiness.add('nats', () =>
      this.nc.isClosed() ? Promise.reject(new Error('connection closed')) : this.nc.flush(),
    );
    const own = (Object.keys(this.options.consumes) as CommandName[]).flatMap((name) =>
      LANES.map((lane) => this.topology.consumerName(name, lane)),
    );
    const reader = new ConsumerLagReader(
      jetStreamConsumerLag(this.nc, {
        stream: this.topology.jobsStream,
        ...(this.options.consumerLag === 'all' ? {} : { consumers: own }),
      }),
    );
    collectConsumerLag(this.metrics, reader, this.logger.child({ component: 'consumer-lag' }));
  }
}

@Module({})
export class MessagingModule {
  static forRoot(options: MessagingModuleOptions): DynamicModule {
    return {
      module: MessagingModule,
      global: true,
      providers: [
        { provide: MESSAGING_OPTIONS, useValue: options },
        {
          provide: TOPOLOGY,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => topology(config.namespace),
        },
        {
          provide: NATS_CONNECTION,
          inject: [APP_CONFIG, LOGGER],
          useFactory: (config: AppConfig, logger: Logger) =>
            connectToNats(
              { url: config.nats.url, name: options.appName, connectTimeoutMs: config.nats.connectTimeoutMs },
              logger,
            ),
        },
        {
          provide: JetStreamPublisher,
          inject: [NATS_CONNECTION],
          useFactory: (nc: NatsConnection) => new JetStreamPublisher(nc),
        },
        {
          provide: BLOB_STORE,
          inject: [NATS_CONNECTION, TOPOLOGY, APP_CONFIG],
          useFactory: (nc: NatsConnection, t: Topology, config: AppConfig) =>
            new NatsBlobStore(nc, {
              objects: t.blobBucket,
              small: t.smallBlobBucket,
              inlineMaxBytes: config.blobs.inlineMaxBytes,
            }),
        },
        {
          provide: OutboxRelay,
          inject: [options.outboxStore, JetStreamPublisher, LOGGER, APP_CONFIG, QUARRY_METRICS],
          useFactory: (
            store: OutboxStore,
            publisher: JetStreamPublisher,
            logger: Logger,
            config: AppConfig,
            metrics: QuarryMetrics,
          ) =>
            new OutboxRelay(store, publisher, logger.child({ component: 'outbox-relay' }), {
              intervalMs: config.outbox.relayIntervalMs,
              graceMs: config.outbox.relayGraceMs,
              metrics,
            }),
        },
        {
          provide: JetStreamServer,
          inject: [NATS_CONNECTION, TOPOLOGY, JetStreamPublisher, APP_CONFIG, LOGGER, QUARRY_METRICS],
          useFactory: (
            nc: NatsConnection,
            t: Topology,
            publisher: JetStreamPublisher,
            config: AppConfig,
            logger: Logger,
            metrics: QuarryMetrics,
          ) =>
            new JetStreamServer(
              nc,
              t,
              publisher,
              {
                consumes: options.consumes,
                serves: options.serves ?? [],
                deadLetterStream: options.watchesDeadLetters ?? false,
                maxDeliveries: options.watchesDeadLetters ?? false,
                publicEvents: options.dispatchesEvents ?? false,
                delivery: {
                  ackWaitMs: config.delivery.ackWaitMs,
                  maxDeliver: config.delivery.maxDeliver,
                  retryBaseDelayMs: config.delivery.retryBaseDelayMs,
                  retryMaxDelayMs: config.delivery.retryMaxDelayMs,
                  fairLookahead: config.delivery.fairLookahead,
                },
                shutdownTimeoutMs: config.shutdownTimeoutMs,
                isOutage: options.isOutage ?? (() => false),
                metrics,
              },
              logger.child({ component: 'jetstream-transport' }),
            ),
        },
        {
          provide: JOBS_CONSUMER_LAG,
          inject: [NATS_CONNECTION, TOPOLOGY],
          useFactory: (nc: NatsConnection, t: Topology) =>
            new ConsumerLagReader(jetStreamConsumerLag(nc, { stream: t.jobsStream }), { cacheMs: 1000 }),
        },
        {
          provide: WORK_QUEUE,
          inject: [NATS_CONNECTION, TOPOLOGY],
          useFactory: (nc: NatsConnection, t: Topology) => jetStreamWorkQueue(nc, t.jobsStream),
        },
        {
          provide: JetStreamClient,
          inject: [NATS_CONNECTION, TOPOLOGY, JetStreamPublisher, APP_CONFIG],
          useFactory: (nc: NatsConnection, t: Topology, publisher: JetStreamPublisher, config: AppConfig) =>
            new JetStreamClient(nc, t, publisher, config.search.timeoutMs),
        },
        NatsConnectionLifecycle,
        MessagingObservability,
      ],
      exports: [
        NATS_CONNECTION,
        TOPOLOGY,
        BLOB_STORE,
        WORK_QUEUE,
        JOBS_CONSUMER_LAG,
        JetStreamPublisher,
        OutboxRelay,
        JetStreamServer,
        JetStreamClient,
      ],
    };
  }
}
