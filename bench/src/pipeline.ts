// The pieces the orchestration benchmark runs in-process: one "role" per Quarry process (the gateway's
// producer side, the ingest worker, the analysis worker), each with its own pg pool and NATS connection
// as the real processes have, and the two command handlers with the real state-machine transitions
// but no parsing, chunking or embedding.
import {
  commandEnvelope,
  uuidv7,
  type IndexDocumentCommand,
  type IngestDocumentCommand,
  type Topology,
} from '@quarry/contracts';
import {
  CommandConsumer,
  connectToNats,
  JetStreamPublisher,
  Outcome,
  OutboxRelay,
  type CommandHandler,
  type HandlerOutcome,
} from '@quarry/messaging';
import {
  createPrismaClient,
  JobsRepository,
  OutboxRepository,
  ExtractionRepository,
  IndexingRepository,
  JobControlRepository,
  type DocumentWork,
  type NewIngestJob,
  type OutboxInsert,
  type PrismaClient,
} from '@quarry/persistence';
import { currentOrNewTraceparent, parseTraceparent, type Logger } from '@quarry/telemetry';
import type { ErrorInfo } from '@quarry/contracts';
import type { NatsConnection } from '@nats-io/transport-node';
import { createHash } from 'node:crypto';

export interface Role {
  name: string;
  prisma: PrismaClient;
  nc: NatsConnection;
  publisher: JetStreamPublisher;
  outbox: OutboxRepository;
  relay: OutboxRelay;
  close(): Promise<void>;
}

export async function openRole(
  name: string,
  databaseUrl: string,
  natsUrl: string,
  poolMax: number,
  logger: Logger,
): Promise<Role> {
  const prisma = createPrismaClient({ databaseUrl, poolMax });
  // The apps' own connection options (reconnects, no async stack traces), so the bench measures what runs.
  const nc = await connectToNats({ url: natsUrl, name: `bench-${name}`, connectTimeoutMs: 5000 }, logger);
  const publisher = new JetStreamPublisher(nc);
  const outbox = new OutboxRepository(prisma);
  // Not started: only the publish-after-commit fast path runs, as in the apps when nothing crashes.
  const relay = new OutboxRelay(outbox, publisher, logger, { intervalMs: 1000, graceMs: 2000 });
  return {
    name,
    prisma,
    nc,
    publisher,
    outbox,
    relay,
    async close() {
      await nc.drain();
      await prisma.$disconnect();
    },
  };
}

/** The job, document and outbox row exactly as the gateway's UploadService builds them, minus the blob. */
export function newIngestJob(topology: Topology, tenantId: string, label: string): NewIngestJob {
  const jobId = uuidv7();
  const documentId = uuidv7();
  const traceparent = currentOrNewTraceparent();
  const payload: IngestDocumentCommand = { v: 1, jobId, tenantId, documentId, traceparent };
  return {
    id: jobId,
    tenantId,
    idempotencyKey: null,
    traceparent,
    traceId: parseTraceparent(traceparent)?.traceId ?? null,
    documents: [
      {
        id: documentId,
        filename: `${label}.txt`,
        claimedContentType: 'text/plain',
        // Distinct bytes per job: identical hashes would only exercise the reuse path.
        sha256: createHash('sha256').update(documentId).digest('hex'),
        sizeBytes: 1024,
        blobKey: `${tenantId}/${documentId}`,
      },
    ],
    outbox: [commandEnvelope(topology, 'ingestDocument', payload)],
  };
}

/** The index command the ingest worker queues, built as IngestDocumentHandler builds it. */
export function indexCommandRow(topology: Topology, work: DocumentWork, traceparent?: string): OutboxInsert {
  return commandEnvelope(topology, 'indexDocument', {
    v: 1,
    jobId: work.jobId,
    tenantId: work.tenantId,
    documentId: work.documentId,
    ...(traceparent ? { traceparent } : {}),
  });
}

export const NOOP_PAGES = { detectedType: 'text' as const, pages: [{ pageNumber: 1, text: 'x' }] };
export const NOOP_MODEL = { id: 'noop', dim: 512 };

export interface HandlerCounters {
  handled: number;
  skipped: number;
  failed: number;
}

/** IngestDocumentHandler without the blob fetch and the extraction. */
export class NoopIngestHandler implements CommandHandler<'ingestDocument'> {
  readonly counters: HandlerCounters = { handled: 0, skipped: 0, failed: 0 };
  private readonly steps: ExtractionRepository;
  private readonly jobControl: JobControlRepository;

  constructor(
    role: Role,
    private readonly topology: Topology,
  ) {
    this.steps = new ExtractionRepository(role.prisma, topology, role.relay);
    this.jobControl = new JobControlRepository(role.prisma, topology, role.relay);
  }

  async handle(cmd: IngestDocumentCommand): Promise<HandlerOutcome> {
    const claim = await this.steps.claimForExtraction(cmd.tenantId, cmd.documentId);
    if (!claim.claimed) {
      this.counters.skipped++;
      return Outcome.ack();
    }
    const work = claim.work;
    await this.steps.completeExtraction(
      work,
      NOOP_PAGES,
      indexCommandRow(this.topology, work, cmd.traceparent ?? work.traceparent ?? undefined),
    );
    this.counters.handled++;
    return Outcome.ack();
  }

  async onDeadLetter(cmd: IngestDocumentCommand, error: ErrorInfo): Promise<void> {
    this.counters.failed++;
    await this.jobControl.failDocument(cmd, { code: error.code, message: error.message });
  }
}

/** IndexDocumentHandler without loading pages, chunking and embedding: no chunks are stored. */
export class NoopIndexHandler implements CommandHandler<'indexDocument'> {
  readonly counters: HandlerCounters = { handled: 0, skipped: 0, failed: 0 };
  private readonly steps: IndexingRepository;
  private readonly jobControl: JobControlRepository;

  constructor(role: Role, topology: Topology) {
    this.steps = new IndexingRepository(role.prisma, topology, role.relay);
    this.jobControl = new JobControlRepository(role.prisma, topology, role.relay);
  }

  async handle(cmd: IndexDocumentCommand): Promise<HandlerOutcome> {
    const claim = await this.steps.claimForIndexing(cmd.tenantId, cmd.documentId);
    if (!claim.claimed) {
      this.counters.skipped++;
      return Outcome.ack();
    }
    await this.steps.completeIndexing(claim.work, [], NOOP_MODEL);
    this.counters.handled++;
    return Outcome.ack();
  }

  async onDeadLetter(cmd: IndexDocumentCommand, error: ErrorInfo): Promise<void> {
    this.counters.failed++;
    await this.jobControl.failDocument(cmd, { code: error.code, message: error.message });
  }
}

export const CONSUMER_OPTIONS = {
  ackWaitMs: 30_000,
  maxDeliver: 5,
  retryBaseDelayMs: 200,
  retryMaxDelayMs: 2000,
  pullExpiresMs: 2000,
};

export interface Workers {
  ingest: CommandConsumer<'ingestDocument'>;
  index: CommandConsumer<'indexDocument'>;
  ingestHandler: NoopIngestHandler;
  indexHandler: NoopIndexHandler;
  stop(): Promise<void>;
}

/** Both consumers, as the two worker processes run them, at the given handler concurrency. */
export async function startWorkers(
  ingestRole: Role,
  indexRole: Role,
  topology: Topology,
  concurrency: number,
  logger: Logger,
): Promise<Workers> {
  const ingestHandler = new NoopIngestHandler(ingestRole, topology);
  const indexHandler = new NoopIndexHandler(indexRole, topology);
  const options = { ...CONSUMER_OPTIONS, concurrency };
  const ingest = new CommandConsumer(
    'ingestDocument',
    ingestRole.nc,
    topology,
    ingestHandler,
    ingestRole.publisher,
    options,
    logger,
  );
  const index = new CommandConsumer(
    'indexDocument',
    indexRole.nc,
    topology,
    indexHandler,
    indexRole.publisher,
    options,
    logger,
  );
  await ingest.start();
  await index.start();
  return {
    ingest,
    index,
    ingestHandler,
    indexHandler,
    async stop() {
      await Promise.all([ingest.stop(5000), index.stop(5000)]);
    },
  };
}

/** Creates the job through the repository, which publishes its outbox rows (`jobs` holds the producer's relay). */
export async function submitJob(_producer: Role, jobs: JobsRepository, job: NewIngestJob): Promise<void> {
  await jobs.createIngestJob(job);
}
