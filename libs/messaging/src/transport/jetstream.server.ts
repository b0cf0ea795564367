import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import {
  LANES,
  QuarryError,
  Services,
  type CommandName,
  type CommandPayload,
  type ErrorInfo,
  type Lane,
  type Topology,
} from '@quarry/contracts';
import type { Logger, QuarryMetrics } from '@quarry/telemetry';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { isObservable, lastValueFrom } from 'rxjs';
import { CommandConsumer, type ConsumerStats } from '../command-consumer';
import type { CommandHandler, HandlerOutcome } from '../handler';
import type { JetStreamPublisher } from '../publisher';
import { serveRequests } from '../services';
import { DeadLetterContext, JetStreamContext, RequestContext } from './jetstream-context';
import { deadLetterStreamSource, DurableStreamConsumer, toDeadLetterMessage } from './dead-letter-stream';
import { MaxDeliveriesListener, type MaxDeliveriesAdvisory } from './max-deliveries';
import {
  commandPattern,
  DEAD_LETTER_STREAM_PATTERN,
  deadLetterPattern,
  MAX_DELIVERIES_PATTERN,
  PUBLIC_EVENTS_PATTERN,
  servicePattern,
  type ServiceName,
} from './patterns';
import { publicEventsSource, toPublicEventMessage } from './public-events';
import { planWiring } from './wiring';

export interface JetStreamServerOptions {
  /** Commands this app consumes, with the concurrency of each lane (ADR 10). */
  consumes: Partial<Record<CommandName, Record<Lane, number>>>;
  /** Request/reply services this app answers. */
  serves: readonly ServiceName[];
  /** Records every message of the DLQ stream (an `@OnDeadLetterMessage` handler). */
  deadLetterStream?: boolean;
  /** Rescues messages stranded at their delivery limit (an `@OnMaxDeliveries` handler). */
  maxDeliveries?: boolean;
  /** Takes every public event through the webhook dispatcher's consumer (an `@OnPublicEvent` handler). */
  publicEvents?: boolean;
  delivery: {
    ackWaitMs: number;
    maxDeliver: number;
    retryBaseDelayMs: number;
    retryMaxDelayMs: number;
    /** Messages pulled beyond the free slots, shared fairly across tenants (CommandConsumer). */
    fairLookahead?: number;
  };
  /** How long stopping waits for in-flight handlers before handing their messages back. */
  shutdownTimeoutMs: number;
  /** Tells a dependency outage (messages are held) from a failure of the message (ADR 14). */
  isOutage: (error: unknown) => boolean;
  metrics?: QuarryMetrics;
}

/**
 * JetStream as a Nest microservice transport. Handlers are declared with `@OnCommand` / `@OnDeadLetter`
 * (`@EventPattern` on a command's catalogue subject) and `@OnRequest` (`@MessagePattern` on a service's) in
 * controllers; `listen` checks the declared set against what the app consumes and serves (boot fails on a
 * missing, duplicate or stray handler), then runs one CommandConsumer per command and lane — free-slot pulls,
 * heartbeats, the hold through outages, outcome → ack / nak with delay / dead letter, requeue on shutdown —
 * and one queue-group subscription per service. `close` stops pulling and waits for in-flight handlers up to
 * the shutdown deadline; Nest calls it before the application's own shutdown hooks.
 */
export class JetStreamServer extends Server implements CustomTransportStrategy {
  override readonly transportId = Symbol.for('quarry:jetstream');
  private readonly declared = new Map<string, number>();
  private readonly consumers: CommandConsumer<CommandName>[] = [];
  private readonly subscriptions: Subscription[] = [];
  private readonly listeners: { stop(): Promise<void> }[] = [];
  private closing: Promise<void> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly topology: Topology,
    private readonly publisher: JetStreamPublisher,
    private readonly options: JetStreamServerOptions,
    private readonly log: Logger,
  ) {
    super();
  }

  /** Counts declarations per pattern: Nest keeps one request handler per pattern and would hide a duplicate. */
  override addHandler(
    pattern: unknown,
    callback: MessageHandler,
    isEventHandler?: boolean,
    extras?: Record<string, unknown>,
  ): void {
    const key = this.normalizePattern(pattern as string);
    this.declared.set(key, (this.declared.get(key) ?? 0) + 1);
    super.addHandler(pattern, callback, isEventHandler, extras);
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      await this.start();
      callback();
    } catch (error) {
      callback(error);
    }
  }

  private async start(): Promise<void> {
    const wiring = planWiring(
      {
        commands: Object.keys(this.options.consumes) as CommandName[],
        services: this.options.serves,
        deadLetterStream: this.options.deadLetterStream ?? false,
        maxDeliveries: this.options.maxDeliveries ?? false,
        publicEvents: this.options.publicEvents ?? false,
      },
      [...this.declared].map(([pattern, handlers]) => ({ pattern, handlers })),
    );
    for (const name of wiring.services) this.serve(name);
    if (wiring.deadLetterStream) {
      const handle = this.handlerFor(DEAD_LETTER_STREAM_PATTERN);
      const consumer = new DurableStreamConsumer(
        this.nc,
        deadLetterStreamSource(this.nc, this.topology),
        async (msg) => {
          await invoke(handle, toDeadLetterMessage(msg), new RequestContext(msg.subject));
        },
        this.log.child({ component: 'dlq-consumer' }),
      );
      consumer.start();
      this.listeners.push(consumer);
    }
    if (wiring.publicEvents) {
      const handle = this.handlerFor(PUBLIC_EVENTS_PATTERN);
      const consumer = new DurableStreamConsumer(
        this.nc,
        publicEventsSource(this.nc, this.topology),
        async (msg) => {
          await invoke(handle, toPublicEventMessage(msg), new RequestContext(msg.subject));
        },
        this.log.child({ component: 'public-events-consumer' }),
      );
      consumer.start();
      this.listeners.push(consumer);
    }
    if (wiring.maxDeliveries) {
      const handle = this.handlerFor(MAX_DELIVERIES_PATTERN);
      const listener = new MaxDeliveriesListener(
        this.nc,
        this.topology,
        async (advisory: MaxDeliveriesAdvisory) => {
          await invoke(handle, advisory, new RequestContext(listener.subject));
        },
        this.log.child({ component: 'max-deliveries' }),
      );
      listener.start();
      this.listeners.push(listener);
    }
    for (const name of wiring.commands) {
      const handler = this.commandHandler(name);
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
            ...this.options.delivery,
            isOutage: (error) =>
              (error instanceof QuarryError && error.code === 'dependency_unavailable') ||
              this.options.isOutage(error),
            ...(this.options.metrics ? { metrics: this.options.metrics } : {}),
          },
          this.log.child({ consumer: name, lane }),
        );
        await consumer.start();
        this.consumers.push(consumer);
      }
    }
  }

  /** The declared handlers as the consumer's port: the payload and a JetStreamContext in, an outcome out. */
  private commandHandler<N extends CommandName>(name: N): CommandHandler<N> {
    const handle = this.handlerFor(commandPattern(name));
    const hook = this.messageHandlers.get(deadLetterPattern(name));
    return {
      handle: async (payload, delivery) => {
        const outcome = await invoke(handle, payload, new JetStreamContext(delivery));
        if (!isHandlerOutcome(outcome)) {
          throw new QuarryError(
            'internal',
            `the ${name} handler returned ${JSON.stringify(outcome)}, not an outcome`,
          );
        }
        return outcome;
      },
      ...(hook
        ? {
            onDeadLetter: async (payload: CommandPayload<N>, error: ErrorInfo) => {
              await invoke(hook, payload, new DeadLetterContext(error));
            },
          }
        : {}),
    };
  }

  private serve(name: ServiceName): void {
    const handle = this.handlerFor(servicePattern(name));
    const subject = this.topology.serviceSubject(name);
    this.subscriptions.push(
      serveRequests(
        this.nc,
        this.topology,
        name,
        // The reply is the handler's, typed by the catalogue; serveRequests turns a thrown error into its code.
        async (request) =>
          (await invoke(handle, request, new RequestContext(subject))) as ReturnType<
            (typeof Services)[typeof name]['reply']['parse']
          >,
        this.log.child({ service: name }),
      ),
    );
  }

  private handlerFor(pattern: string): MessageHandler {
    const handler = this.messageHandlers.get(pattern);
    if (!handler) throw new Error(`no handler registered for ${pattern}`);
    return handler;
  }

  get stats(): ConsumerStats[] {
    return this.consumers.map((c) => c.stats);
  }

  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  /**
   * In an HTTP app with this transport connected (the gateway), stops it with the other pre-shutdown work, before
   * connections close; a worker's microservice closes it first anyway. Either way it stops once.
   */
  beforeApplicationShutdown(): Promise<void> {
    return this.close();
  }

  private async stop(): Promise<void> {
    for (const s of this.subscriptions) s.unsubscribe();
    await Promise.all(this.listeners.map((l) => l.stop()));
    if (this.consumers.length === 0) return;
    const inFlight = this.consumers.reduce((n, c) => n + c.stats.inFlight, 0);
    this.log.info({ inFlight, deadlineMs: this.options.shutdownTimeoutMs }, 'consumers stopping');
    await Promise.all(this.consumers.map((c) => c.stop(this.options.shutdownTimeoutMs)));
    this.log.info('consumers stopped');
  }

  on(): never {
    throw new Error(
      'the JetStream transport emits no events; read its stats or the connection status instead',
    );
  }

  unwrap<T>(): T {
    return this.nc as T;
  }
}

/** Calls a Nest handler (guards, interceptors, pipes and filters applied) and waits for its value. */
async function invoke(handler: MessageHandler, data: unknown, ctx: unknown): Promise<unknown> {
  const result: unknown = await handler(data, ctx);
  return isObservable(result) ? lastValueFrom(result) : result;
}

function isHandlerOutcome(value: unknown): value is HandlerOutcome {
  if (typeof value !== 'object' || value === null || !('kind' in value)) return false;
  const kind = value.kind;
  return kind === 'ack' || kind === 'retry' || kind === 'dead_letter';
}
