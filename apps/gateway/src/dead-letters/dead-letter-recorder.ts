import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import {
  Commands,
  ErrorCodes,
  uuidv7,
  type ErrorCode,
  type ErrorInfo,
  type Topology,
} from '@quarry/contracts';
import {
  dlqRecorderConsumerName,
  ensureDlqRecorderConsumer,
  MessagingAttributes,
  NATS_CONNECTION,
  QuarryHeaders,
  retryDelayMs,
  TOPOLOGY,
  withConsumerSpan,
} from '@quarry/messaging';
import {
  DeadLettersRepository,
  PipelineRepository,
  type DocumentWork,
  type NewDeadLetter,
  type OutboxRow,
} from '@quarry/persistence';
import { LOGGER, QUARRY_METRICS, type Logger, type QuarryMetrics } from '@quarry/telemetry';
import { jetstream, type Consumer, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { commandOfSubject, parseDeadLetter, type DlqMessage } from './dead-letter-message';

/** Ports of the recorder; the repositories implement them (and publish what they commit). */
export interface DeadLetterStore {
  record(d: NewDeadLetter): Promise<{ id: string; inserted: boolean }>;
}
export interface DocumentFailer {
  failDocument(
    work: Pick<DocumentWork, 'jobId' | 'documentId' | 'tenantId'>,
    error: ErrorInfo,
  ): Promise<OutboxRow[]>;
}

/** Messages fetched per pull; each is recorded in a few milliseconds, far inside the ack wait. */
const BATCH = 32;
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 60_000;

export function toDlqMessage(msg: JsMsg): DlqMessage {
  return {
    subject: msg.subject,
    seq: msg.info.streamSequence,
    time: msg.time,
    header: (name) => msg.headers?.get(name) || undefined,
    data: msg.data,
  };
}

/**
 * Records every message of the DLQ stream in `dead_letters` through a durable pull consumer that all
 * gateway replicas share (each message goes to one of them). A dead letter names a document that must
 * end `failed`; the worker's own `onDeadLetter` normally did that, but a worker that died first did
 * not, so the recorder fails it too (a no-op when already failed); the repository publishes what that produced.
 */
@Injectable()
export class DeadLetterRecorder implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private running = false;
  private loop: Promise<void> | undefined;
  private currentFetch: { stop(): void } | undefined;
  private wake: (() => void) | undefined;

  constructor(
    @Inject(DeadLettersRepository) private readonly store: DeadLetterStore,
    @Inject(PipelineRepository) private readonly pipeline: DocumentFailer,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(QUARRY_METRICS) private readonly metrics: Pick<QuarryMetrics, 'counter'>,
  ) {}

  /** Stores one dead letter (once, however often it is recorded) and fails the document it names. */
  async record(m: DlqMessage): Promise<{ id: string; inserted: boolean }> {
    const d = parseDeadLetter(this.topology, m, uuidv7());
    const result = await this.store.record(d);
    const log = this.logger.child({
      deadLetterId: result.id,
      dlqSeq: m.seq,
      jobId: d.jobId,
      documentId: d.documentId,
      code: d.code,
    });
    if (result.inserted) {
      log.warn({ command: d.command, reason: d.reason }, 'dead letter recorded');
      // Known steps and codes only: another producer's subjects must not become series of their own.
      this.metrics.counter('quarry_dead_letters_recorded_total').inc({
        step: d.command in Commands ? Commands[d.command as keyof typeof Commands].consumer : 'other',
        code: errorCodeOf(d.code),
      });
    }
    if (commandOfSubject(this.topology, m.subject) && d.tenantId && d.jobId && d.documentId) {
      const rows = await this.pipeline.failDocument(
        { tenantId: d.tenantId, jobId: d.jobId, documentId: d.documentId },
        { code: errorCodeOf(d.code), message: d.reason },
      );
      if (rows.length > 0) log.warn('document failed by the recorder: its worker never did');
    }
    return result;
  }

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    this.currentFetch?.stop();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let consumer: Consumer | undefined;
    for (let attempt = 1; this.running && !consumer; attempt++) {
      try {
        await ensureDlqRecorderConsumer(this.nc, this.topology);
        consumer = await jetstream(this.nc).consumers.get(
          this.topology.dlqStream,
          dlqRecorderConsumerName(this.topology),
        );
      } catch (error) {
        // The gateway serves without it; dead letters wait in their stream until this succeeds.
        this.logger.error({ err: error, attempt }, 'dead-letter recorder cannot attach to the DLQ stream');
        await this.pause(retryDelayMs(attempt, RETRY_BASE_MS, RETRY_MAX_MS));
      }
    }
    while (this.running && consumer) {
      try {
        const batch = await consumer.fetch({ max_messages: BATCH, expires: 5000 });
        this.currentFetch = batch;
        for await (const msg of batch) {
          if (!this.running) {
            msg.nak(0); // hand it to another replica at once
            continue;
          }
          await this.handle(msg);
        }
      } catch (error) {
        if (!this.running) break;
        this.logger.warn({ err: error }, 'dead-letter recorder pull failed; retrying');
        await this.pause(RETRY_BASE_MS);
      } finally {
        this.currentFetch = undefined;
      }
    }
  }

  /** Recorded inside a consumer span of the job's trace: the dead letter shows up next to its failures. */
  private handle(msg: JsMsg): Promise<void> {
    return withConsumerSpan(
      msg.subject,
      msg.headers?.get(QuarryHeaders.traceparent) || undefined,
      {
        [MessagingAttributes.consumerGroup]: dlqRecorderConsumerName(this.topology),
        [MessagingAttributes.deliveryCount]: msg.info.deliveryCount,
        [MessagingAttributes.streamSequence]: msg.info.streamSequence,
      },
      () => this.recordAndAck(msg),
    );
  }

  private async recordAndAck(msg: JsMsg): Promise<void> {
    try {
      await this.record(toDlqMessage(msg));
      msg.ack();
    } catch (error) {
      const delay = retryDelayMs(msg.info.deliveryCount, RETRY_BASE_MS, RETRY_MAX_MS);
      this.logger.error(
        { err: error, dlqSeq: msg.info.streamSequence, retryInMs: delay },
        'could not record dead letter; will retry',
      );
      msg.nak(delay);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

function errorCodeOf(code: string): ErrorCode {
  return code in ErrorCodes ? (code as ErrorCode) : 'internal';
}
