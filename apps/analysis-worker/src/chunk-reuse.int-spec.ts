import { loadConfig } from '@quarry/config';
import { MessageIds, topology, uuidv7, type IndexDocumentCommand } from '@quarry/contracts';
import { OutboxRelay, type DeliveryContext } from '@quarry/messaging';
import {
  createPrismaClient,
  JobsRepository,
  OutboxRepository,
  ExtractionRepository,
  IndexingRepository,
  JobControlRepository,
  TenantsRepository,
  type PageInput,
  type PrismaClient,
} from '@quarry/persistence';
import { FakeEmbeddingProvider } from '@quarry/retrieval';
import { createLogger, QuarryMetrics } from '@quarry/telemetry';
import { createTestDatabase, type TestDatabase, RecordingPublisher } from '@quarry/testing';
import { createHash } from 'node:crypto';
import { UploadLabeler } from './analyses/upload-labeler';
import { IndexDocumentHandler } from './index-document.handler';

// The real index handler on the real state machine (a migrated PostgreSQL): a document whose bytes were
// indexed before by the same tenant with the same model takes those chunks and vectors instead of
// embedding again. The embedding provider is a fake that counts calls.

const topo = topology('qt_chunk_reuse');
const logger = createLogger({ level: 'silent', pretty: false, app: 't' });
const config = loadConfig({ CHUNK_MAX_TOKENS: '32', CHUNK_OVERLAP_TOKENS: '0' });

let db: TestDatabase | undefined;
let prisma: PrismaClient;
let jobs: JobsRepository;
let extractionStep: ExtractionRepository;
let indexStep: IndexingRepository;
let jobControl: JobControlRepository;
let tenantA: string;
let tenantB: string;
const publisher = new RecordingPublisher();
const metrics = new QuarryMetrics({ app: 'analysis-worker', processMetrics: false });

beforeAll(async () => {
  db = await createTestDatabase('chunk_reuse');
  prisma = createPrismaClient({ databaseUrl: db.url, poolMax: 4 });
  // The repositories publish what they commit (and count the jobs they end) through the relay, as in the worker.
  const relay = new OutboxRelay(new OutboxRepository(prisma), publisher, logger, {
    intervalMs: 1000,
    graceMs: 1000,
    metrics,
  });
  jobs = new JobsRepository(prisma, relay);
  extractionStep = new ExtractionRepository(prisma, topo, relay);
  indexStep = new IndexingRepository(prisma, topo, relay);
  jobControl = new JobControlRepository(prisma, topo, relay);
  const tenants = new TenantsRepository(prisma);
  tenantA = (await tenants.ensureTenantWithKey('chunks-a', 'key-chunks-a-0123')).tenantId;
  tenantB = (await tenants.ensureTenantWithKey('chunks-b', 'key-chunks-b-0123')).tenantId;
});

afterAll(async () => {
  await prisma?.$disconnect();
  await db?.drop();
});

const sentence = (n: number) => `Sentence ${n} is about the dolerite dykes mapped in the northern quarry.`;
const pagesFor = (label: string): PageInput[] => [
  { pageNumber: 1, text: [1, 2, 3].map(sentence).join(' ') + ` ${label}` },
  { pageNumber: 2, text: [4, 5].map(sentence).join(' ') },
];

/** A job of one document with `sha` as its bytes' hash, extracted to `pages`; returns its ids. */
async function extracted(tenantId: string, sha: string, pages: PageInput[]) {
  const jobId = uuidv7();
  const documentId = uuidv7();
  await jobs.createIngestJob({
    id: jobId,
    tenantId,
    idempotencyKey: null,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    traceId: null,
    documents: [
      {
        id: documentId,
        filename: 'dykes.txt',
        claimedContentType: 'text/plain',
        sha256: sha,
        sizeBytes: 100,
        blobKey: `${tenantId}/${documentId}`,
      },
    ],
    outbox: [],
  });
  const claim = await extractionStep.claimForExtraction(tenantId, documentId);
  if (!claim.claimed) throw new Error(`expected a claim, got ${claim.reason}`);
  const next = {
    tenantId,
    jobId,
    subject: topo.commandSubject('indexDocument'),
    msgId: MessageIds.command('indexDocument', jobId, documentId),
    payload: { v: 1, jobId, tenantId, documentId },
    headers: {},
  };
  expect(
    await extractionStep.completeExtraction(claim.work, { detectedType: 'text', pages }, next),
  ).not.toBeNull();
  return { jobId, documentId, tenantId };
}

async function index(
  doc: { jobId: string; documentId: string; tenantId: string },
  provider: FakeEmbeddingProvider,
) {
  const handler = new IndexDocumentHandler(
    indexStep,
    jobControl,
    provider,
    config,
    logger,
    metrics,
    new UploadLabeler(provider),
  );
  const cmd: IndexDocumentCommand = { v: 1, ...doc };
  const ctx: DeliveryContext = {
    subject: topo.commandSubject('indexDocument'),
    msgId: MessageIds.command('indexDocument', doc.jobId, doc.documentId),
    deliveryCount: 1,
    maxDeliver: 5,
    traceparent: undefined,
    signal: new AbortController().signal,
    working: () => undefined,
  };
  return handler.handle(cmd, ctx);
}

interface ChunkRow {
  ordinal: number;
  page_number: number;
  text: string;
  token_count: number;
  char_start: number;
  char_end: number;
  embedding: string;
  embedding_model: string;
  embedding_dim: number;
  tenant_id: string;
}

const chunksOf = (documentId: string) =>
  prisma.$queryRaw<ChunkRow[]>`
    SELECT ordinal, page_number, text, token_count, char_start, char_end, embedding::text AS embedding,
           embedding_model, embedding_dim, tenant_id::text AS tenant_id
    FROM chunks WHERE document_id = ${documentId}::uuid ORDER BY ordinal`;
const reuseEvents = (jobId: string) =>
  prisma.jobEvent.findMany({ where: { jobId, kind: 'chunks_reused' }, orderBy: { id: 'asc' } });
const sha = (label: string) => createHash('sha256').update(label).digest('hex');

describe('reuse of an earlier indexing of the same bytes', () => {
  it('copies chunks and vectors of the same model instead of embedding, and finishes the job', async () => {
    const hash = sha(`same model ${uuidv7()}`);
    const pages = pagesFor('same');
    const first = await extracted(tenantA, hash, pages);
    const model = new FakeEmbeddingProvider({ dim: 32, id: 'fake-32' });
    await expect(index(first, model)).resolves.toEqual({ kind: 'ack' });
    const calls = model.calls.length;
    expect(calls).toBeGreaterThan(0);
    const firstChunks = await chunksOf(first.documentId);
    expect(firstChunks.length).toBeGreaterThan(2);

    const second = await extracted(tenantA, hash, pages);
    await expect(index(second, model)).resolves.toEqual({ kind: 'ack' });

    expect(model.calls).toHaveLength(calls);
    expect(await chunksOf(second.documentId)).toEqual(firstChunks);
    const doc = await prisma.document.findUniqueOrThrow({ where: { id: second.documentId } });
    expect([doc.status, doc.chunkCount]).toEqual(['indexed', firstChunks.length]);
    const job = await prisma.job.findUniqueOrThrow({ where: { id: second.jobId } });
    expect(job.status).toBe('succeeded');
    const steps = await prisma.jobStep.findMany({ where: { jobId: second.jobId }, orderBy: { name: 'asc' } });
    expect(steps.map((s) => [s.name, s.status, s.done])).toEqual([
      ['index', 'succeeded', 1],
      ['ingest', 'succeeded', 1],
    ]);
    expect((await reuseEvents(second.jobId)).map((e) => e.data)).toEqual([
      { documentId: second.documentId, fromDocumentId: first.documentId, model: 'fake-32' },
    ]);
    // The job's completion event went through the outbox and out.
    const completed = publisher.published.filter(
      (p) => p.options.msgId === MessageIds.jobEvent(second.jobId, 'completed'),
    );
    expect(completed).toHaveLength(1);
  });

  it('embeds again under another model, for another tenant, or when the stored pages differ', async () => {
    const hash = sha(`variants ${uuidv7()}`);
    const pages = pagesFor('variants');
    const model = new FakeEmbeddingProvider({ dim: 32, id: 'fake-32' });
    await index(await extracted(tenantA, hash, pages), model);

    const otherModel = new FakeEmbeddingProvider({ dim: 16, id: 'fake-16' });
    const underOther = await extracted(tenantA, hash, pages);
    await index(underOther, otherModel);
    expect(otherModel.calls.length).toBeGreaterThan(0);
    expect((await chunksOf(underOther.documentId)).every((c) => c.embedding_model === 'fake-16')).toBe(true);

    const before = model.calls.length;
    const otherTenant = await extracted(tenantB, hash, pages);
    await index(otherTenant, model);
    expect(model.calls.length).toBeGreaterThan(before);
    expect((await chunksOf(otherTenant.documentId)).every((c) => c.tenant_id === tenantB)).toBe(true);

    // Same bytes, different stored text (an earlier parser version, say): the old chunks would not match.
    const afterTenant = model.calls.length;
    const changed = await extracted(tenantA, hash, pagesFor('parsed differently'));
    await index(changed, model);
    expect(model.calls.length).toBeGreaterThan(afterTenant);
    expect((await chunksOf(changed.documentId)).some((c) => c.text.includes('parsed differently'))).toBe(
      true,
    );

    for (const doc of [underOther, otherTenant, changed]) expect(await reuseEvents(doc.jobId)).toEqual([]);
  });
});
