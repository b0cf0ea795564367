import {
  Commands,
  QuarryError,
  type CommandName,
  type ErrorInfo,
  type Lane,
  type Topology,
} from '@quarry/contracts';
import type { Logger, QuarryMetrics } from '@quarry/telemetry';
import { jetstream, type Consumer, type JsMsg } from '@nats-io/jetstream';
import type { Span } from '@opentelemetry/api';
import type { NatsConnection } from '@nats-io/transport-node';
import { FairShare } from './fair-share';
import { QuarryHeaders } from './headers';
import { retryDelayMs, type CommandHandler, type HandlerOutcome } from './handler';
import { jobAttributes, type JetStreamPublisher } from './publisher';
import { failSpan, MessagingAttributes, withConsumerSpan } from './tracing';

export interface CommandConsumerOptions {
  concurrency: number;
  /** The lane this consumer drains; each lane has its own durable consumer and capacity. */
  lane?: Lane;
  ackWaitMs: number;
  /** Deliveries the handler gets; the consumer's server-side max_deliver is one more (see provisioning). */
  maxDeliver: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  /** How long an idle pull waits on the server before asking again. */
  pullExpiresMs?: number;
  /**
   * Messages pulled beyond the free slots, waiting (their ack timers reset) until a slot frees; a freed slot goes
   * to the tenant with the fewest running (FairShare). So another tenant's message this far back in the queue starts
   * at the next free slot instead of after everything ahead of it. 0 pulls only for free slots, in queue order.
   */
  fairLookahead?: number;
  /**
   * Tells an outage of a dependency (the database gone, NATS away) from a failure of the message;
   * without it every failure is the message's. See `handleHoldingThroughOutages`.
   */
  isOutage?: (error: unknown) => boolean;
  /** Deliveries, outcomes, step durations and dead letters are counted here when given. */
  metrics?: Pick<QuarryMetrics, 'counter' | 'histogram'>;
}

/** How a delivery ended, as the metrics label it. */
type Settled = 'ack' | 'retry' | 'dead_letter' | 'requeue';

export interface ConsumerStats {
  inFlight: number;
  processed: number;
  acked: number;
  retried: number;
  deadLettered: number;
}

/**
 * Runs one durable pull consumer. It pulls as many messages as it has free slots, plus up to `fairLookahead` that
 * wait in a fair share across tenants; waiting messages get `working()` so their ack timers never run out (a
 * buffer whose timers ran would make JetStream redeliver messages that were never started, and handlers run twice).
 */
export class CommandConsumer<N extends CommandName> {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  /** Aborted as soon as `stop()` begins, to end a hold through an outage at once. */
  private readonly stopping = new AbortController();
  private slotFreed: (() => void) | undefined;
  private currentFetch: { stop(): void } | undefined;
  /** When each in-flight delivery started, for the step duration. */
  private readonly pulledAt = new WeakMap<JsMsg, number>();
  /** Pulled messages waiting for a slot, by tenant. */
  private readonly share = new FairShare<Pulled>();
  private waitingHeartbeat: NodeJS.Timeout | undefined;
  readonly stats: ConsumerStats = { inFlight: 0, processed: 0, acked: 0, retried: 0, deadLettered: 0 };

  constructor(
    private readonly name: N,
    private readonly nc: NatsConnection,
    private readonly topology: Topology,
    private readonly handler: CommandHandler<N>,
    private readonly publisher: JetStreamPublisher,
    private readonly options: CommandConsumerOptions,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const js = jetstream(this.nc);
    const consumer = await js.consumers.get(
      this.topology.jobsStream,
      this.topology.consumerName(this.name, this.options.lane),
    );
    this.running = true;
    this.waitingHeartbeat = setInterval(
      () => {
        for (const pulled of this.share.items()) pulled.msg.working();
      },
      Math.max(250, Math.floor(this.options.ackWaitMs / 3)),
    );
    this.loop = this.pullLoop(consumer);
    this.logger.info(
      {
        durable: this.topology.consumerName(this.name, this.options.lane),
        concurrency: this.options.concurrency,
      },
      'consuming',
    );
  }

  private async pullLoop(consumer: Consumer): Promise<void> {
    while (this.running) {
      const free = this.options.concurrency - this.inFlight.size;
      const room = Math.max(0, (this.options.fairLookahead ?? 0) - this.share.size);
      if (free + room <= 0) {
        await new Promise<void>((resolve) => (this.slotFreed = resolve));
        continue;
      }
      try {
        const batch = await consumer.fetch({
          max_messages: free + room,
          expires: this.options.pullExpiresMs ?? 5000,
        });
        this.currentFetch = batch;
        for await (const msg of batch) {
          if (!this.running) {
            // Pulled during shutdown: hand it straight back so another replica takes it.
            msg.nak(0);
            continue;
          }
          const pulled = pull(msg);
          this.share.hold(tenantOf(pulled), pulled);
          this.startWaiting();
        }
      } catch (error) {
        if (!this.running) break;
        this.logger.warn(
          { err: error, durable: this.topology.consumerName(this.name, this.options.lane) },
          'pull failed; retrying',
        );
        await new Promise((r) => setTimeout(r, 1000));
      } finally {
        this.currentFetch = undefined;
      }
    }
  }

  private get labels() {
    return { step: Commands[this.name].consumer, lane: this.options.lane ?? 'interactive' };
  }

  private delivered(msg: JsMsg): void {
    this.pulledAt.set(msg, performance.now());
    if (msg.info.deliveryCount > 1)
      this.options.metrics?.counter('quarry_redeliveries_total').inc(this.labels);
  }

  private settled(msg: JsMsg, outcome: Settled): void {
    const metrics = this.options.metrics;
    if (!metrics) return;
    const { step, lane } = this.labels;
    metrics.counter('quarry_messages_processed_total').inc({ step, lane, outcome });
    const pulled = this.pulledAt.get(msg);
    if (pulled !== undefined) {
      metrics
        .histogram('quarry_step_duration_seconds')
        .observe({ step, outcome }, (performance.now() - pulled) / 1000);
    }
  }

  /** Fills free slots from the waiting messages, fairly across tenants. */
  private startWaiting(): void {
    while (this.running && this.inFlight.size < this.options.concurrency) {
      const next = this.share.next();
      if (!next) return;
      this.share.started(next.tenant);
      this.delivered(next.item.msg);
      this.track(this.traced(next.item), next.tenant);
    }
  }

  private track(p: Promise<void>, tenant: string): void {
    this.inFlight.add(p);
    this.stats.inFlight = this.inFlight.size;
    void p.finally(() => {
      this.inFlight.delete(p);
      this.share.finished(tenant);
      this.stats.inFlight = this.inFlight.size;
      this.startWaiting();
      this.slotFreed?.();
      this.slotFreed = undefined;
    });
  }

  /** One consumer span per delivery: a redelivery is another span of the same trace. */
  private traced(pulled: Pulled): Promise<void> {
    const { msg } = pulled;
    return withConsumerSpan(
      msg.subject,
      msg.headers?.get(QuarryHeaders.traceparent) || undefined,
      {
        [MessagingAttributes.messageId]: msg.headers?.get('Nats-Msg-Id') || `seq-${msg.info.streamSequence}`,
        [MessagingAttributes.consumerGroup]: this.topology.consumerName(this.name, this.options.lane),
        [MessagingAttributes.deliveryCount]: msg.info.deliveryCount,
        [MessagingAttributes.streamSequence]: msg.info.streamSequence,
        [MessagingAttributes.bodySize]: msg.data.byteLength,
      },
      (span) => this.process(pulled, span),
    );
  }

  private async process({ msg, body }: Pulled, span: Span): Promise<void> {
    const deliveryCount = msg.info.deliveryCount;
    const subject = msg.subject;
    const msgId = msg.headers?.get('Nats-Msg-Id') || undefined;
    const traceparent = msg.headers?.get(QuarryHeaders.traceparent) || undefined;
    const log = this.logger.child({ subject, msgId, deliveryCount });

    let payload: unknown;
    try {
      // The body was read once when pulled; a body that was not JSON fails here, as it would have then.
      if (!body.ok) throw body.error;
      payload = Commands[this.name].schema.parse(body.value);
    } catch (cause) {
      await this.deadLetter(
        msg,
        undefined,
        { code: 'validation_failed', message: `invalid ${this.name} message: ${String(cause)}` },
        log,
        span,
      );
      return;
    }
    const typed = payload as Parameters<CommandHandler<N>['handle']>[0];
    span.setAttributes(jobAttributes(payload));

    if (deliveryCount > this.options.maxDeliver) {
      // The previous deliveries ended without an outcome (the worker died or stalled each time).
      await this.deadLetter(
        msg,
        typed,
        {
          code: 'delivery_exhausted',
          message: `no outcome after ${this.options.maxDeliver} deliveries (worker crashed or timed out)`,
        },
        log,
        span,
      );
      return;
    }

    // working() resets the server's ack timer, so a long extraction is not redelivered mid-way.
    const heartbeat = setInterval(() => msg.working(), Math.max(250, Math.floor(this.options.ackWaitMs / 3)));
    let outcome: HandlerOutcome;
    try {
      outcome = await this.handleHoldingThroughOutages(typed, log, {
        subject,
        msgId,
        deliveryCount,
        maxDeliver: this.options.maxDeliver,
        traceparent,
        signal: this.abort.signal,
        working: () => msg.working(),
      });
    } finally {
      clearInterval(heartbeat);
    }
    this.stats.processed++;
    span.setAttribute(MessagingAttributes.outcome, outcome.kind);
    if (outcome.kind !== 'ack') failSpan(span, new Error(outcome.error.message), outcome.error.code);

    switch (outcome.kind) {
      case 'ack':
        msg.ack();
        this.stats.acked++;
        this.settled(msg, 'ack');
        return;
      case 'retry':
        if (this.abort.signal.aborted && deliveryCount >= this.options.maxDeliver) {
          // Stopped by our own shutdown, not by the message: it must not use up its last deliveries.
          await this.requeue(msg, log);
          return;
        }
        if (deliveryCount >= this.options.maxDeliver) {
          await this.deadLetter(msg, typed, outcome.error, log, span);
          return;
        }
        msg.nak(
          outcome.delayMs ??
            retryDelayMs(deliveryCount, this.options.retryBaseDelayMs, this.options.retryMaxDelayMs),
        );
        this.stats.retried++;
        this.settled(msg, 'retry');
        return;
      case 'dead_letter':
        await this.deadLetter(msg, typed, outcome.error, log, span);
        return;
    }
  }

  /**
   * Runs the handler. When it fails because a dependency is down, the message is held (its
   * heartbeat goes on) and run again after a backoff, for up to `maxDeliver × retryMaxDelayMs`:
   * a nak would spend one of its few deliveries per attempt, and an outage longer than the retry
   * schedule would fail documents that have nothing wrong with them. The held message keeps its
   * slot, so the consumer pulls nothing new while the dependency is away.
   */
  private async handleHoldingThroughOutages(
    payload: Parameters<CommandHandler<N>['handle']>[0],
    log: Logger,
    ctx: Parameters<CommandHandler<N>['handle']>[1],
  ): Promise<HandlerOutcome> {
    const holdUntil = Date.now() + this.options.maxDeliver * this.options.retryMaxDelayMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.handler.handle(payload, ctx);
      } catch (error) {
        const outcome = outcomeOfError(error);
        const outage = this.options.isOutage?.(error) ?? false;
        if (!outage || !this.running || Date.now() >= holdUntil) {
          if (outcome.kind !== 'ack') log.warn({ err: error, code: outcome.error.code }, 'handler failed');
          return outcome;
        }
        const delayMs = retryDelayMs(attempt, this.options.retryBaseDelayMs, this.options.retryMaxDelayMs);
        log.warn(
          { err: error, holdAttempt: attempt, delayMs },
          'dependency unavailable; holding the message',
        );
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            this.stopping.signal.removeEventListener('abort', done);
            resolve();
          };
          const timer = setTimeout(done, delayMs);
          this.stopping.signal.addEventListener('abort', done, { once: true });
        });
      }
    }
  }

  private async deadLetter(
    msg: JsMsg,
    payload: Parameters<CommandHandler<N>['handle']>[0] | undefined,
    error: ErrorInfo,
    log: Logger,
    span: Span,
  ): Promise<void> {
    span.setAttribute(MessagingAttributes.outcome, 'dead_letter');
    failSpan(span, new Error(error.message), error.code);
    const originMsgId = msg.headers?.get('Nats-Msg-Id') || `seq-${msg.info.streamSequence}`;
    try {
      await this.publisher.publishRaw(this.topology.dlqSubject(this.name), msg.data, {
        msgId: `dlq:${originMsgId}`,
        traceparent: msg.headers?.get(QuarryHeaders.traceparent) || undefined,
        headers: {
          [QuarryHeaders.dlqReason]: error.message.slice(0, 1000),
          [QuarryHeaders.dlqCode]: error.code,
          [QuarryHeaders.originSubject]: msg.subject,
          [QuarryHeaders.originMsgId]: originMsgId,
          [QuarryHeaders.deliveryCount]: String(msg.info.deliveryCount),
        },
      });
      if (payload && this.handler.onDeadLetter) await this.handler.onDeadLetter(payload, error);
    } catch (cause) {
      // Could not record the dead letter: leave the message to be redelivered rather than lose it.
      log.error({ err: cause }, 'dead-lettering failed; message will be redelivered');
      msg.nak(this.options.retryBaseDelayMs);
      this.settled(msg, 'retry');
      return;
    }
    // Called without a reason: NATS 2.9 ignores term(reason) and redelivers.
    msg.term();
    this.stats.deadLettered++;
    this.settled(msg, 'dead_letter');
    this.options.metrics
      ?.counter('quarry_dead_letters_total')
      .inc({ step: Commands[this.name].consumer, code: error.code });
    log.error({ code: error.code, reason: error.message }, 'message dead-lettered');
  }

  /**
   * Puts a copy of the message back at the end of the queue with fresh delivery counting, then
   * terminates the original. The copy's id is derived from the original's and the delivery, so a
   * repeat of this step is dropped as a duplicate.
   */
  private async requeue(msg: JsMsg, log: Logger): Promise<void> {
    const originMsgId = msg.headers?.get('Nats-Msg-Id') || `seq-${msg.info.streamSequence}`;
    try {
      await this.publisher.publishRaw(msg.subject, msg.data, {
        msgId: `${originMsgId}:requeued:${msg.info.deliveryCount}`,
        traceparent: msg.headers?.get(QuarryHeaders.traceparent) || undefined,
      });
    } catch (error) {
      log.warn({ err: error }, 'requeue on shutdown failed; leaving the message to be redelivered');
      msg.nak(0);
      this.settled(msg, 'retry');
      return;
    }
    msg.term();
    this.settled(msg, 'requeue');
    log.info('requeued on shutdown');
  }

  /** Stops pulling, waits for in-flight handlers up to the deadline, then gives up on them. */
  async stop(deadlineMs: number): Promise<void> {
    this.running = false;
    this.stopping.abort();
    this.currentFetch?.stop();
    this.slotFreed?.();
    clearInterval(this.waitingHeartbeat);
    // Never started: hand them straight back so another replica takes them.
    for (const pulled of this.share.drain()) pulled.msg.nak(0);
    const drained = Promise.all([...this.inFlight]).then(() => true);
    const timedOut = new Promise<boolean>((r) => setTimeout(() => r(false), deadlineMs).unref());
    if (!(await Promise.race([drained, timedOut]))) {
      // Handlers see the aborted signal and return a retry; unacked messages are redelivered elsewhere.
      this.abort.abort();
      await Promise.race([drained, new Promise((r) => setTimeout(r, 2000).unref())]);
    }
    await this.loop;
  }
}

/** A pulled message with its body read once: the fair share needs the tenant, validation the whole body. */
interface Pulled {
  msg: JsMsg;
  body: { ok: true; value: unknown } | { ok: false; error: unknown };
}

function pull(msg: JsMsg): Pulled {
  try {
    return { msg, body: { ok: true, value: msg.json() } };
  } catch (error) {
    // Not JSON: validation dead-letters it with this error once it starts.
    return { msg, body: { ok: false, error } };
  }
}

/** The tenant a command names (every command does); '' for a body that is not one, which fails validation later. */
function tenantOf({ body }: Pulled): string {
  const tenantId = body.ok ? (body.value as { tenantId?: unknown } | null)?.tenantId : undefined;
  return typeof tenantId === 'string' ? tenantId : '';
}

export function outcomeOfError(error: unknown): HandlerOutcome {
  if (error instanceof QuarryError) {
    if (!error.retryable) return { kind: 'dead_letter', error: error.toInfo() };
    // A server that said when to come back (429 Retry-After) is asked again then, not on our backoff.
    return error.retryAfterMs === undefined
      ? { kind: 'retry', error: error.toInfo() }
      : { kind: 'retry', error: error.toInfo(), delayMs: error.retryAfterMs };
  }
  // Unknown errors are assumed transient (a dropped connection, a deadlock) and retried up to the limit.
  return {
    kind: 'retry',
    error: {
      code: 'internal',
      message: error instanceof Error ? error.message : String(error),
      retryable: true,
    },
  };
}
