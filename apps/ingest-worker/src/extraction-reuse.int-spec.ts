import { loadConfig } from '@quarry/config';
import {
  MessageIds,
  topology,
  uuidv7,
  type DetectedType,
  type IngestDocumentCommand,
} from '@quarry/contracts';
import {
  createOcrEngine,
  Extractor,
  ParserPool,
  type OcrEngine,
  type Extraction,
  type ExtractionCall,
} from '@quarry/extraction';
import { OutboxRelay, type DeliveryContext } from '@quarry/messaging';
import {
  createPrismaClient,
  JobsRepository,
  OutboxRepository,
  ExtractionRepository,
  IndexingRepository,
  JobControlRepository,
  TenantsRepository,
  type PrismaClient,
} from '@quarry/persistence';
import { createLogger, QuarryMetrics } from '@quarry/telemetry';
import {
  createTestDatabase,
  type TestDatabase,
  RecordingPublisher,
  MemoryBlobStore,
  waitFor,
} from '@quarry/testing';
import { createHash } from 'node:crypto';
import type { DocumentExtractor } from './extractor';
import { IngestDocumentHandler } from './ingest-document.handler';

// The real handler on the real state machine (a migrated PostgreSQL): the same bytes uploaded again by
// the same tenant reuse the earlier extraction. The parsers are the real ones behind a counter; blobs
// and the NATS publisher are in memory, since reuse is decided before either is touched.

const topo = topology('qt_reuse');
const logger = createLogger({ level: 'silent', pretty: false, app: 't' });
const config = loadConfig({});

class CountingExtractor implements DocumentExtractor {
  detects = 0;
  extracts = 0;
  real: Extractor | undefined;
  /** Overrides the real key: another parser version or other OCR settings. */
  key: string | undefined;
  get extractionKey(): string {
    return this.key ?? this.use().extractionKey;
  }
  detect(file: string, filename: string): Promise<DetectedType> {
    this.detects++;
    return this.use().detect(file, filename);
  }
  extract(file: string, detected: DetectedType, call: ExtractionCall): Promise<Extraction> {
    this.extracts++;
    return this.use().extract(file, detected, call);
  }
  private use(): Extractor {
    if (!this.real) throw new Error('the real extractor is made in beforeAll');
    return this.real;
  }
}

const LIMITS = { maxPages: 100, maxPixels: 50_000_000, maxArchiveEntries: 1000, maxUncompressedBytes: 100e6 };
let pool: ParserPool;
let ocr: OcrEngine;

let db: TestDatabase | undefined;
let prisma: PrismaClient;
let jobs: JobsRepository;
let extractionStep: ExtractionRepository;
let indexStep: IndexingRepository;
let jobControl: JobControlRepository;
let tenantA: string;
let tenantB: string;
const blobs = new MemoryBlobStore();
const extractor = new CountingExtractor();
const publisher = new RecordingPublisher();
let handler: IngestDocumentHandler;

beforeAll(async () => {
  db = await createTestDatabase('reuse');
  prisma = createPrismaClient({ databaseUrl: db.url, poolMax: 4 });
  // The repositories publish what they commit through the relay, as in the worker.
  const relay = new OutboxRelay(new OutboxRepository(prisma), publisher, logger, {
    intervalMs: 1000,
    graceMs: 1000,
  });
  jobs = new JobsRepository(prisma, relay);
  extractionStep = new ExtractionRepository(prisma, topo, relay);
  indexStep = new IndexingRepository(prisma, topo, relay);
  jobControl = new JobControlRepository(prisma, topo, relay);
  const tenants = new TenantsRepository(prisma);
  tenantA = (await tenants.ensureTenantWithKey('reuse-a', 'key-reuse-a-0123')).tenantId;
  tenantB = (await tenants.ensureTenantWithKey('reuse-b', 'key-reuse-b-0123')).tenantId;
  pool = new ParserPool({ size: 1, maxMemoryMb: 512 });
  ocr = await createOcrEngine({ engine: 'auto', languages: ['eng'], concurrency: 1 });
  extractor.real = new Extractor(pool, ocr, {
    timeoutMs: 30_000,
    maxMemoryMb: 512,
    limits: LIMITS,
    ocr: { languages: ['eng'], dpi: 300, minConfidence: 60, pageTimeoutMs: 30_000, pdfMinChars: 20 },
  });
  handler = new IngestDocumentHandler(
    extractionStep,
    jobControl,
    blobs,
    extractor,
    { fetchToFile: () => Promise.reject(new Error('no URL documents here')) },
    topo,
    config,
    logger,
    new QuarryMetrics({ app: 'ingest-worker', processMetrics: false }),
  );
});

afterAll(async () => {
  await pool?.close();
  await ocr?.close();
  await prisma?.$disconnect();
  await db?.drop();
});

/** A queued job of `files` for the tenant, its blobs in the memory store; returns the document ids. */
async function upload(tenantId: string, files: { name: string; bytes: Uint8Array }[]) {
  const jobId = uuidv7();
  const documents = files.map((f) => {
    const id = uuidv7();
    const blobKey = `${tenantId}/${id}`;
    blobs.blobs.set(blobKey, f.bytes);
    return {
      id,
      filename: f.name,
      claimedContentType: 'text/plain',
      sha256: createHash('sha256').update(f.bytes).digest('hex'),
      sizeBytes: f.bytes.length,
      blobKey,
    };
  });
  await jobs.createIngestJob({
    id: jobId,
    tenantId,
    idempotencyKey: null,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    traceId: '0af7651916cd43dd8448eb211c80319c',
    documents,
    outbox: [],
  });
  return { jobId, docIds: documents.map((d) => d.id) };
}

async function ingest(tenantId: string, jobId: string, documentId: string) {
  const cmd: IngestDocumentCommand = { v: 1, jobId, tenantId, documentId };
  const ctx: DeliveryContext = {
    subject: topo.commandSubject('ingestDocument'),
    msgId: MessageIds.command('ingestDocument', jobId, documentId),
    deliveryCount: 1,
    maxDeliver: 5,
    traceparent: undefined,
    signal: new AbortController().signal,
    working: () => undefined,
  };
  return handler.handle(cmd, ctx);
}

const documentRow = (id: string) => prisma.document.findUniqueOrThrow({ where: { id } });
const pagesOf = async (id: string) =>
  (
    await prisma.page.findMany({
      where: { documentId: id },
      orderBy: { pageNumber: 'asc' },
      select: { pageNumber: true, text: true, charCount: true, tenantId: true },
    })
  ).map((p) => ({ ...p }));
const reuseEvents = (jobId: string) =>
  prisma.jobEvent.findMany({ where: { jobId, kind: 'extraction_reused' }, orderBy: { id: 'asc' } });
const indexCommandsPublished = (documentId: string) =>
  publisher.published.filter(
    (p) =>
      p.subject === topo.commandSubject('indexDocument') &&
      (p.payload as { documentId?: string }).documentId === documentId,
  );

/** Three pages of text (form feeds separate pages), different for every call. */
function threePages(label: string): Uint8Array {
  return new TextEncoder().encode(
    `${label}: first page about granite.\fSecond page about basalt.\fThird page about slate ${uuidv7()}.\n`,
  );
}

describe('reuse of an earlier extraction of the same bytes', () => {
  it('a second upload of the same bytes by the same tenant copies the pages without fetching or parsing', async () => {
    const bytes = threePages('same tenant');
    const first = await upload(tenantA, [{ name: 'first.txt', bytes }]);
    const firstDoc = first.docIds[0]!;
    const before = { detects: extractor.detects, extracts: extractor.extracts };
    await expect(ingest(tenantA, first.jobId, firstDoc)).resolves.toEqual({ kind: 'ack' });
    expect(extractor.extracts).toBe(before.extracts + 1);
    const firstPages = await pagesOf(firstDoc);
    expect(firstPages).toHaveLength(3);

    const second = await upload(tenantA, [{ name: 'again.txt', bytes }]);
    const secondDoc = second.docIds[0]!;
    const reads = blobs.reads.length;
    await expect(ingest(tenantA, second.jobId, secondDoc)).resolves.toEqual({ kind: 'ack' });

    // Neither the blob nor the parser was touched.
    expect(extractor.detects).toBe(before.detects + 1);
    expect(extractor.extracts).toBe(before.extracts + 1);
    expect(blobs.reads).toHaveLength(reads);
    // Identical pages, type and count; the document is extracted exactly as completeExtraction leaves it.
    expect(await pagesOf(secondDoc)).toEqual(firstPages);
    const [a, b] = [await documentRow(firstDoc), await documentRow(secondDoc)];
    expect(b).toMatchObject({ status: 'extracted', detectedType: a.detectedType, pageCount: 3 });
    expect(a.detectedType).toBe('text');
    const steps = await prisma.jobStep.findMany({ where: { jobId: second.jobId }, orderBy: { name: 'asc' } });
    expect(steps.map((s) => [s.name, s.status, s.done, s.total])).toEqual([
      ['index', 'queued', 0, 1],
      ['ingest', 'succeeded', 1, 1],
    ]);
    expect((await prisma.job.findUniqueOrThrow({ where: { id: second.jobId } })).status).toBe('running');
    // The job's log says where the pages came from; the index command is stored and published.
    const events = await reuseEvents(second.jobId);
    expect(events.map((e) => e.data)).toEqual([{ documentId: secondDoc, fromDocumentId: firstDoc }]);
    const msgId = MessageIds.command('indexDocument', second.jobId, secondDoc);
    // The relay marks it sent after the publish, without the handler waiting for the mark.
    await waitFor(async () => (await prisma.outbox.findUniqueOrThrow({ where: { msgId } })).sentAt, {
      description: 'the index command to be marked sent',
    });
    expect(indexCommandsPublished(secondDoc).map((p) => p.options.msgId)).toEqual([msgId]);

    // A redelivery of the same command finds the document done and changes nothing.
    await expect(ingest(tenantA, second.jobId, secondDoc)).resolves.toEqual({ kind: 'ack' });
    expect(await reuseEvents(second.jobId)).toHaveLength(1);
    expect(extractor.extracts).toBe(before.extracts + 1);
  });

  it("never reuses another tenant's extraction of identical bytes", async () => {
    const bytes = threePages('tenant isolation');
    const mine = await upload(tenantA, [{ name: 'a.txt', bytes }]);
    await ingest(tenantA, mine.jobId, mine.docIds[0]!);
    const extracts = extractor.extracts;

    const theirs = await upload(tenantB, [{ name: 'b.txt', bytes }]);
    const theirDoc = theirs.docIds[0]!;
    await expect(ingest(tenantB, theirs.jobId, theirDoc)).resolves.toEqual({ kind: 'ack' });

    expect(extractor.extracts).toBe(extracts + 1);
    expect(await reuseEvents(theirs.jobId)).toEqual([]);
    const pages = await pagesOf(theirDoc);
    expect(pages).toHaveLength(3);
    expect(pages.every((p) => p.tenantId === tenantB)).toBe(true);
    expect((await documentRow(theirDoc)).status).toBe('extracted');
  });

  it('never reuses a failed document, even one whose pages were stored before it failed', async () => {
    const bytes = threePages('failed source');
    const earlier = await upload(tenantA, [{ name: 'earlier.txt', bytes }]);
    const earlierDoc = earlier.docIds[0]!;
    await ingest(tenantA, earlier.jobId, earlierDoc);
    // Its index step then fails for good (as a dead-lettered embedding would leave it).
    const claim = await indexStep.claimForIndexing(tenantA, earlierDoc);
    if (!claim.claimed) throw new Error(`expected an indexing claim, got ${claim.reason}`);
    await jobControl.failDocument(claim.work, { code: 'embedding_failed', message: 'provider down' });
    expect((await documentRow(earlierDoc)).status).toBe('failed');
    expect(await pagesOf(earlierDoc)).toHaveLength(3);
    const extracts = extractor.extracts;

    const later = await upload(tenantA, [{ name: 'later.txt', bytes }]);
    const laterDoc = later.docIds[0]!;
    await expect(ingest(tenantA, later.jobId, laterDoc)).resolves.toEqual({ kind: 'ack' });

    expect(extractor.extracts).toBe(extracts + 1);
    expect(await reuseEvents(later.jobId)).toEqual([]);
    expect(await documentRow(laterDoc)).toMatchObject({ status: 'extracted', pageCount: 3 });
  });

  it('never reuses a document that failed its own extraction: the new upload is parsed and fails alike', async () => {
    const binary = new Uint8Array([
      0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0x3e, 0,
    ]);
    const earlier = await upload(tenantA, [{ name: 'tool.txt', bytes: binary }]);
    await ingest(tenantA, earlier.jobId, earlier.docIds[0]!);
    expect((await documentRow(earlier.docIds[0]!)).status).toBe('failed');
    const extracts = extractor.extracts;

    const later = await upload(tenantA, [{ name: 'tool-again.txt', bytes: binary }]);
    await ingest(tenantA, later.jobId, later.docIds[0]!);

    expect(extractor.extracts).toBe(extracts + 1);
    const row = await documentRow(later.docIds[0]!);
    expect(row.status).toBe('failed');
    expect((row.error as { code?: string } | null)?.code).toBe('unsupported_type');
    expect(await reuseEvents(later.jobId)).toEqual([]);
  });

  it('reuses within one job, and prefers an indexed source to a merely extracted one', async () => {
    const bytes = threePages('one job');
    const job = await upload(tenantA, [
      { name: 'one.txt', bytes },
      { name: 'two.txt', bytes },
    ]);
    const [one, two] = job.docIds as [string, string];
    await ingest(tenantA, job.jobId, one);
    const extracts = extractor.extracts;
    await ingest(tenantA, job.jobId, two);
    expect(extractor.extracts).toBe(extracts);
    expect((await reuseEvents(job.jobId)).map((e) => e.data)).toEqual([
      { documentId: two, fromDocumentId: one },
    ]);
    const steps = await prisma.jobStep.findFirstOrThrow({ where: { jobId: job.jobId, name: 'ingest' } });
    expect([steps.status, steps.done, steps.total]).toEqual(['succeeded', 2, 2]);

    // `two` is indexed, `one` (older) only extracted: a later upload copies from the indexed one.
    const claim = await indexStep.claimForIndexing(tenantA, two);
    if (!claim.claimed) throw new Error(`expected an indexing claim, got ${claim.reason}`);
    expect(await indexStep.completeIndexing(claim.work, [], { id: 'test-model', dim: 4 })).not.toBeNull();
    const later = await upload(tenantA, [{ name: 'three.txt', bytes }]);
    await ingest(tenantA, later.jobId, later.docIds[0]!);
    expect((await reuseEvents(later.jobId)).map((e) => e.data)).toEqual([
      { documentId: later.docIds[0], fromDocumentId: two },
    ]);
    expect(extractor.extracts).toBe(extracts);
  });

  it('parses again when the extraction settings changed (another parser version, other OCR languages)', async () => {
    const bytes = threePages('settings changed');
    const earlier = await upload(tenantA, [{ name: 'earlier.txt', bytes }]);
    await ingest(tenantA, earlier.jobId, earlier.docIds[0]!);
    const extracts = extractor.extracts;
    extractor.key = 'v999:other-settings';
    try {
      const later = await upload(tenantA, [{ name: 'later.txt', bytes }]);
      await ingest(tenantA, later.jobId, later.docIds[0]!);
      expect(extractor.extracts).toBe(extracts + 1);
      expect(await reuseEvents(later.jobId)).toEqual([]);
      expect(await documentRow(later.docIds[0]!)).toMatchObject({ extractionKey: 'v999:other-settings' });
    } finally {
      extractor.key = undefined;
    }
  });

  it('does nothing for a document of a job that finished meanwhile', async () => {
    const bytes = threePages('finished job');
    const earlier = await upload(tenantA, [{ name: 'earlier.txt', bytes }]);
    await ingest(tenantA, earlier.jobId, earlier.docIds[0]!);
    const later = await upload(tenantA, [{ name: 'later.txt', bytes }]);
    const laterDoc = later.docIds[0]!;
    const claim = await extractionStep.claimForExtraction(tenantA, laterDoc);
    if (!claim.claimed) throw new Error(`expected a claim, got ${claim.reason}`);
    await prisma.job.update({ where: { id: later.jobId }, data: { status: 'cancelled' } });

    const next = {
      tenantId: tenantA,
      jobId: later.jobId,
      subject: topo.commandSubject('indexDocument'),
      msgId: MessageIds.command('indexDocument', later.jobId, laterDoc),
      payload: { v: 1, jobId: later.jobId, tenantId: tenantA, documentId: laterDoc },
      headers: {},
    };
    await expect(extractionStep.reuseExtraction(claim.work, extractor.extractionKey, next)).resolves.toEqual({
      outcome: 'stale',
    });
    expect(await pagesOf(laterDoc)).toEqual([]);
    expect((await documentRow(laterDoc)).status).toBe('extracting');
    expect(await prisma.outbox.findUnique({ where: { msgId: next.msgId } })).toBeNull();
  });
});
