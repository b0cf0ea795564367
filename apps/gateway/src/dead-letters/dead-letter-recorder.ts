import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  Commands,
  ErrorCodes,
  uuidv7,
  type ErrorCode,
  type ErrorInfo,
  type Topology,
} from '@quarry/contracts';
import { OnDeadLetterMessage, TOPOLOGY, type DeadLetterMessage } from '@quarry/messaging';
import {
  DeadLettersRepository,
  JobControlRepository,
  type DocumentWork,
  type NewDeadLetter,
  type OutboxRow,
} from '@quarry/persistence';
import { LOGGER, QUARRY_METRICS, type Logger, type QuarryMetrics } from '@quarry/telemetry';
import { commandOfSubject, parseDeadLetter } from './dead-letter-message';

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

/**
 * Records every message of the DLQ stream in `dead_letters`; the JetStream transport feeds it through a durable
 * pull consumer that all gateway replicas share (each message goes to one of them), acks what it recorded and
 * retries what it could not. A dead letter names a document that must end `failed`; the worker's own dead-letter
 * hook normally did that, but a worker that died first did not, so the recorder fails it too (a no-op when
 * already failed); the repository publishes what that produced.
 */
@Controller()
export class DeadLetterRecorder {
  constructor(
    @Inject(DeadLettersRepository) private readonly store: DeadLetterStore,
    @Inject(JobControlRepository) private readonly documents: DocumentFailer,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(QUARRY_METRICS) private readonly metrics: Pick<QuarryMetrics, 'counter'>,
  ) {}

  /** Stores one dead letter (once, however often it is recorded) and fails the document it names. */
  @OnDeadLetterMessage()
  async record(@Payload() m: DeadLetterMessage): Promise<{ id: string; inserted: boolean }> {
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
      const rows = await this.documents.failDocument(
        { tenantId: d.tenantId, jobId: d.jobId, documentId: d.documentId },
        { code: errorCodeOf(d.code), message: d.reason },
      );
      if (rows.length > 0) log.warn('document failed by the recorder: its worker never did');
    }
    return result;
  }
}

function errorCodeOf(code: string): ErrorCode {
  return code in ErrorCodes ? (code as ErrorCode) : 'internal';
}
