import {
  Inject,
  Injectable,
  Module,
  type BeforeApplicationShutdown,
  type InjectionToken,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { DiscoveryModule, DiscoveryService } from '@nestjs/core';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import {
  Commands,
  LANES,
  QuarryError,
  topology,
  type CommandName,
  type Lane,
  type Topology,
} from '@quarry/contracts';
import { LOGGER, QUARRY_METRICS, Readiness, type Logger, type QuarryMetrics } from '@quarry/telemetry';
import type { NatsConnection } from '@nats-io/transport-node';
import { NatsBlobStore } from './blob-store';
import { CommandConsumer } from './command-consumer';
import { connectToNats } from './connection';
import { collectConsumerLag, ConsumerLagReader, jetStreamConsumerLag } from './consumer-lag';
import { commandHandledBy, type CommandHandler } from './handler';
import { OutboxRelay, type OutboxStore } from './outbox-relay';
import { JetStreamPublisher } from './publisher';

export const NATS_CONNECTION = Symbol('NATS_CONNECTION');
export const TOPOLOGY = Symbol('TOPOLOGY');
export const BLOB_STORE = Symbol('BLOB_STORE');
const MESSAGING_OPTIONS = Symbol('MESSAGING_OPTIONS');

export interface MessagingModuleOptions {
  /** Connection name shown by the NATS server. */
  appName: string;
  /**
   * Commands this app consumes, with the concurrency of each lane (ADR 10). Exactly one handler each
   * must exist; it serves both lanes.
   */
  consumes: Partial<Record<CommandName, Record<Lane, number>>>;
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

export class HandlerWiringError extends Error {
  override readonly name = 'HandlerWiringError';
}

/** Checks the handler set against what the app says it consumes; boot fails on any mismatch. */
export function matchHandlers(
  consumes: readonly CommandName[],
  found: { name: CommandName; provider: string }[],
): Map<CommandName, string> {
  const problems: string[] = [];
  const byCommand = new Map<CommandName, string[]>();
  for (const f of found) byCommand.set(f.name, [...(byCommand.get(f.name) ?? []), f.provider]);
  for (const name of consumes) {
    const providers = byCommand.get(name) ?? [];
    if (providers.length === 0) problems.push(`no handler for command ${name} (${Commands[name].subject})`);
    if (providers.length > 1)
      problems.push(`command ${name} has ${providers.length} handlers: ${providers.join(', ')}`);
  }
  for (const [name, providers] of byCommand) {
    if (!consumes.includes(name))
      problems.push(`handler ${providers.join(', ')} for ${name}, which this app does not consume`);
  }
  if (problems.length > 0)
    throw new HandlerWiringError(`message handler wiring is wrong:\n  ${problems.join('\n  ')}`);
  return new Map([...byCommand].map(([k, v]) => [k, v[0] as string]));
}

@Injectable()
export class ConsumerHost
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly consumers: CommandConsumer<CommandName>[] = [];

  constructor(
    private readonly discovery: DiscoveryService,
    @Inject(MESSAGING_OPTIONS) private readonly options: MessagingModuleOptions,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly publisher: JetStreamPublisher,
    @Inject(QUARRY_METRICS) private readonly metrics: QuarryMetrics,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const found: { name: CommandName; provider: string; instance: CommandHandler<CommandName> }[] = [];
    for (const wrapper of this.discovery.getProviders()) {
      const ctor = wrapper.metatype as object | null | undefined;
      const instance: unknown = wrapper.instance;
      if (!ctor || !instance) continue;
      const name = commandHandledBy(ctor);
      if (name)
        found.push({
          name,
          provider: String(wrapper.name),
          instance: instance as CommandHandler<CommandName>,
        });
    }
    const consumes = Object.keys(this.options.consumes) as CommandName[];
    matchHandlers(consumes, found);
    for (const name of consumes) {
      const handler = found.find((f) => f.name === name)?.instance as CommandHandler<CommandName>;
      for (const lane of LANES) {
        const consumer = new CommandConsumer(
          name,
          this.nc,
          this.topology,
          handler,
          this.publisher,
          {
            lane,
            concurrency: this.options.consumes[name]?.[lane] ?? 1,
            ackWaitMs: this.config.delivery.ackWaitMs,
            maxDeliver: this.config.delivery.maxDeliver,
            retryBaseDelayMs: this.config.delivery.retryBaseDelayMs,
            retryMaxDelayMs: this.config.delivery.retryMaxDelayMs,
            isOutage: (error) =>
              (error instanceof QuarryError && error.code === 'dependency_unavailable') ||
              (this.options.isOutage?.(error) ?? false),
            metrics: this.metrics,
          },
          this.logger.child({ consumer: name, lane }),
        );
        await consumer.start();
        this.consumers.push(consumer);
      }
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.consumers.length === 0) return;
    const inFlight = this.consumers.reduce((n, c) => n + c.stats.inFlight, 0);
    this.logger.info({ inFlight, deadlineMs: this.config.shutdownTimeoutMs }, 'consumers stopping');
    await Promise.all(this.consumers.map((c) => c.stop(this.config.shutdownTimeoutMs)));
    this.logger.info('consumers stopped');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.nc.drain().catch((error: unknown) => this.logger.warn({ err: error }, 'nats drain failed'));
  }

  get stats() {
    return this.consumers.map((c) => c.stats);
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
      imports: [DiscoveryModule],
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
        ConsumerHost,
        MessagingObservability,
      ],
      exports: [NATS_CONNECTION, TOPOLOGY, BLOB_STORE, JetStreamPublisher, OutboxRelay, ConsumerHost],
    };
  }
}
