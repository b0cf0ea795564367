import { createHash, randomBytes } from 'node:crypto';
import {
  MessageIds,
  topology,
  uuidFromName,
  uuidv7,
  type DocumentClassification,
  type WorkerJobResult,
} from '@quarry/contracts';
import { findMigrationsDir, runMigrations } from '@quarry/migrations';
import { createEmptyDatabase, type TestDatabase } from '@quarry/test-kit';
import { createPrismaClient, type PrismaClient } from '../prisma';
import { RecordingAfterCommit } from './__fixtures__/recording-after-commit';
import { AnalysesRepository } from './analyses.repository';
import { CrawlsRepository } from './crawls.repository';
import { ExtractionRepository } from './extraction.repository';
import { IndexingRepository } from './indexing.repository';
import { JobsRepository, TenantsRepository } from './jobs.repository';
import type { ChunkInput, DocumentWork, ExtractionResult, NewDocument, OutboxInsert } from './types';
import { UsageRepository } from './usage.repository';

// Usage metering on a real, migrated PostgreSQL (ADR 32): every path that does work records it in the same statement
// or transaction, and a redelivered step (the same transition run again, one after the other or at the same time)
// records nothing more. Each test makes its own jobs, and reads the records of those jobs only.

const topo = topology('qt_usage');
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const MODEL = { id: 'test-model', dim: 4 };

let db: TestDatabase | undefined;
let prisma: PrismaClient;
const after = new RecordingAfterCommit();
let jobs: JobsRepository;
let extraction: ExtractionRepository;
let indexing: IndexingRepository;
let analyses: AnalysesRepository;
let crawls: CrawlsRepository;
let usage: UsageRepository;
let tenantA: string;
let tenantB: string;

beforeAll(async () => {
  db = await createEmptyDatabase('usage', { create: false });
  await runMigrations({ databaseUrl: db.url, migrationsDir: findMigrationsDir(__dirname) });
  prisma = createPrismaClient({ databaseUrl: db.url, poolMax: 8 });
  jobs = new JobsRepository(prisma, after);
  extraction = new ExtractionRepository(prisma, topo, after);
  indexing = new IndexingRepository(prisma, topo, after);
  analyses = new AnalysesRepository(prisma, topo, after);
  crawls = new CrawlsRepository(prisma, topo, after);
  usage = new UsageRepository(prisma);
  const tenants = new TenantsRepository(prisma);
  tenantA = (await tenants.ensureTenantWithKey('usage-a', 'key-usage-a-0123')).tenantId;
  tenantB = (await tenants.ensureTenantWithKey('usage-b', 'key-usage-b-0123')).tenantId;
});

afterEach(async () => {
  // Whatever a test did, each day's total is exactly the sum of the records it was added from.
  const drift = await prisma.$queryRaw<{ tenant_id: string; metric: string }[]>`
    WITH r AS (SELECT tenant_id, metric, (occurred_at AT TIME ZONE 'UTC')::date AS day, sum(quantity) AS q
               FROM usage_records GROUP BY 1, 2, 3)
    SELECT coalesce(r.tenant_id, d.tenant_id)::text AS tenant_id, coalesce(r.metric, d.metric) AS metric
    FROM r FULL JOIN usage_daily d ON d.tenant_id = r.tenant_id AND d.metric = r.metric AND d.day = r.day
    WHERE r.q IS DISTINCT FROM d.quantity`;
  expect(drift).toEqual([]);
});

afterAll(async () => {
  await prisma?.$disconnect();
  await db?.drop();
});

/** A job's usage, metric by metric (metrics it did not use are absent). */
async function usageOfJob(jobId: string): Promise<Record<string, number>> {
  const rows = await prisma.$queryRaw<{ metric: string; quantity: number }[]>`
    SELECT metric, sum(quantity)::float8 AS quantity FROM usage_records WHERE job_id = ${jobId}::uuid
    GROUP BY metric ORDER BY metric`;
  return Object.fromEntries(rows.map((r) => [r.metric, r.quantity]));
}

function upload(tenantId: string, sizeBytes: number, sha256?: string): NewDocument {
  const id = uuidv7();
  return {
    id,
    filename: `${id}.pdf`,
    claimedContentType: 'application/pdf',
    sha256: sha256 ?? createHash('sha256').update(id).digest('hex'),
    sizeBytes,
    blobKey: `${tenantId}/${id}`,
  };
}

async function newJob(tenantId: string, documents: NewDocument[], idempotencyKey: string | null = null) {
  const id = uuidv7();
  const created = await jobs.createIngestJob({
    id,
    tenantId,
    idempotencyKey,
    traceparent: TRACEPARENT,
    traceId: null,
    documents,
    outbox: documents.map((d) => ({
      tenantId,
      jobId: id,
      subject: topo.commandSubject('ingestDocument'),
      msgId: MessageIds.command('ingestDocument', id, d.id),
      payload: { v: 1, jobId: id, tenantId, documentId: d.id },
      headers: {},
    })),
  });
  return created.job;
}

function indexCommand(work: DocumentWork): OutboxInsert {
  return {
    tenantId: work.tenantId,
    jobId: work.jobId,
    subject: topo.commandSubject('indexDocument'),
    msgId: MessageIds.command('indexDocument', work.jobId, work.documentId),
    payload: { v: 1, jobId: work.jobId, tenantId: work.tenantId, documentId: work.documentId },
    headers: {},
  };
}

async function claimExtraction(tenantId: string, documentId: string): Promise<DocumentWork> {
  const claim = await extraction.claimForExtraction(tenantId, documentId);
  if (!claim.claimed) throw new Error(`expected an extraction claim, got ${claim.reason}`);
  return claim.work;
}

async function claimIndexing(tenantId: string, documentId: string): Promise<DocumentWork> {
  const claim = await indexing.claimForIndexing(tenantId, documentId);
  if (!claim.claimed) throw new Error(`expected an index claim, got ${claim.reason}`);
  return claim.work;
}

const THREE_PAGES: ExtractionResult = {
  detectedType: 'pdf',
  extractionKey: 'test-key',
  pages: [
    { pageNumber: 1, text: 'typed page one', method: 'text_layer' },
    { pageNumber: 2, text: 'a scanned page', method: 'ocr', ocrConfidence: 91 },
    { pageNumber: 3, text: 'typed page three', method: 'text_layer' },
  ],
};

function chunks(tokens: number[]): ChunkInput[] {
  return tokens.map((tokenCount, i) => ({
    pageNumber: 1,
    ordinal: i,
    text: `chunk ${i} of the document`,
    tokenCount,
    charStart: 0,
    charEnd: 10,
    embedding: Float32Array.from({ length: MODEL.dim }, (_, k) => (k === i % MODEL.dim ? 1 : 0)),
  }));
}

/** Takes one uploaded document through both steps, the way the workers do. */
async function processDocument(tenantId: string, jobId: string, documentId: string): Promise<void> {
  const work = await claimExtraction(tenantId, documentId);
  expect(await extraction.completeExtraction(work, THREE_PAGES, indexCommand(work))).not.toBeNull();
  const indexWork = await claimIndexing(tenantId, documentId);
  expect(await indexing.completeIndexing(indexWork, chunks([5, 6, 7]), MODEL)).not.toBeNull();
  expect(indexWork.jobId).toBe(jobId);
}

describe('usage recorded as the work happens, once', () => {
  it("meters an upload's documents and stored bytes with its job; an Idempotency-Key replay adds nothing", async () => {
    const key = `usage-${randomBytes(4).toString('hex')}`;
    const job = await newJob(tenantA, [upload(tenantA, 100), upload(tenantA, 2500)], key);
    expect(await usageOfJob(job.id)).toEqual({ documents: 2, storage_bytes: 2600 });

    const replay = await jobs.createIngestJob({
      id: uuidv7(),
      tenantId: tenantA,
      idempotencyKey: key,
      traceparent: TRACEPARENT,
      traceId: null,
      documents: [upload(tenantA, 999)],
      outbox: [],
    });
    expect(replay.created).toBe(false);
    expect(await usageOfJob(job.id)).toEqual({ documents: 2, storage_bytes: 2600 });
  });

  it('counts the pages of a redelivered extraction once, whether the deliveries follow or overlap each other', async () => {
    const job = await newJob(tenantA, [upload(tenantA, 10), upload(tenantA, 10)]);
    const [first, second] = job.documents.map((d) => d.id) as [string, string];

    // One after the other: the first delivery completed; the redelivery claimed before it did, and completes after.
    const work = await claimExtraction(tenantA, first);
    const again = await claimExtraction(tenantA, first);
    expect(await extraction.completeExtraction(work, THREE_PAGES, indexCommand(work))).not.toBeNull();
    expect(await extraction.completeExtraction(again, THREE_PAGES, indexCommand(again))).toBeNull();

    // At the same time: two deliveries of the second document complete together (one batch, or two).
    const [w1, w2] = await Promise.all([claimExtraction(tenantA, second), claimExtraction(tenantA, second)]);
    const outcomes = await Promise.all([
      extraction.completeExtraction(w1, THREE_PAGES, indexCommand(w1)),
      extraction.completeExtraction(w2, THREE_PAGES, indexCommand(w2)),
    ]);
    expect(outcomes.filter((o) => o !== null)).toHaveLength(1);

    expect(await usageOfJob(job.id)).toEqual({
      documents: 2,
      storage_bytes: 20,
      pages_parsed: 6,
      pages_ocr: 2,
    });
  });

  it("meters an extraction's attachments (bytes of each, a document for each one to parse) once", async () => {
    const job = await newJob(tenantA, [upload(tenantA, 4000)]);
    const parent = job.documents[0]!.id;
    const child = (i: number, failed: boolean) => ({
      id: uuidFromName(`${parent}:attachment:${i}`),
      filename: `attachment-${i}.txt`,
      claimedContentType: 'text/plain',
      sha256: createHash('sha256').update(`${parent}${i}`).digest('hex'),
      sizeBytes: 300 + i,
      blobKey: `${tenantA}/${parent}-${i}`,
      ...(failed ? { failed: { code: 'too_deeply_nested' as const, message: 'too deep' } } : {}),
    });
    const result: ExtractionResult = { ...THREE_PAGES, children: [child(0, false), child(1, true)] };
    const work = await claimExtraction(tenantA, parent);
    const again = await claimExtraction(tenantA, parent);
    expect(await extraction.completeExtraction(work, result, indexCommand(work))).not.toBeNull();
    expect(await extraction.completeExtraction(again, result, indexCommand(again))).toBeNull();

    expect(await usageOfJob(job.id)).toEqual({
      // the upload, and the attachment to parse; the one refused at birth is stored, not parsed
      documents: 2,
      storage_bytes: 4000 + 300 + 301,
      pages_parsed: 3,
      pages_ocr: 1,
    });
  });

  it("meters a URL document's bytes when they are fetched, once however often the fetch is redelivered", async () => {
    const id = uuidv7();
    const job = await newJob(tenantA, [
      {
        id,
        filename: 'guide.html',
        claimedContentType: null,
        sha256: null,
        sizeBytes: null,
        blobKey: `${tenantA}/${id}`,
        source: 'url',
        sourceUrl: 'https://example.com/guide.html',
      },
    ]);
    expect(await usageOfJob(job.id)).toEqual({ documents: 1 });

    const work = await claimExtraction(tenantA, id);
    const fetched = (sizeBytes: number) => ({
      sha256: createHash('sha256').update(String(sizeBytes)).digest('hex'),
      sizeBytes,
      finalUrl: 'https://example.com/guide.html',
      httpStatus: 200,
      contentType: 'text/html',
    });
    expect(await extraction.recordFetch(work, fetched(5000))).toBe(true);
    // The redelivery fetched again (the page changed meanwhile): the first fetch's record stands.
    const again = await claimExtraction(tenantA, id);
    expect(await extraction.recordFetch(again, fetched(6000))).toBe(true);
    expect(await usageOfJob(job.id)).toEqual({ documents: 1, storage_bytes: 5000 });
  });

  it('counts embeddings and the language model a document was labelled with once, even for two deliveries at once', async () => {
    const job = await newJob(tenantA, [upload(tenantA, 64)]);
    const documentId = job.documents[0]!.id;
    const work = await claimExtraction(tenantA, documentId);
    await extraction.completeExtraction(work, THREE_PAGES, indexCommand(work));

    const labels: DocumentClassification = {
      method: 'llm',
      labels: ['invoice'],
      scores: [{ name: 'invoice', score: 0.9 }],
      reason: 'asks for payment',
      usage: { model: 'llm', calls: 1, promptTokens: 80, completionTokens: 10, totalTokens: 90 },
    };
    const [w1, w2] = await Promise.all([
      claimIndexing(tenantA, documentId),
      claimIndexing(tenantA, documentId),
    ]);
    const done = await Promise.all([
      indexing.completeIndexing(w1, chunks([5, 6, 7]), MODEL, undefined, labels),
      indexing.completeIndexing(w2, chunks([5, 6, 7]), MODEL, undefined, labels),
    ]);
    expect(done.filter((d) => d !== null)).toHaveLength(1);
    const claimAfter = await indexing.claimForIndexing(tenantA, documentId);
    expect(claimAfter).toEqual({ claimed: false, reason: 'job_finished' });

    expect(await usageOfJob(job.id)).toEqual({
      documents: 1,
      storage_bytes: 64,
      pages_parsed: 3,
      pages_ocr: 1,
      chunks_embedded: 3,
      embedding_tokens: 18,
      llm_tokens: 90,
    });
  });

  it('meters no pages or embeddings for the same bytes reused (ADR 13), only the upload itself', async () => {
    const sha = createHash('sha256').update(randomBytes(8)).digest('hex');
    const earlier = await newJob(tenantA, [upload(tenantA, 700, sha)]);
    await processDocument(tenantA, earlier.id, earlier.documents[0]!.id);

    const job = await newJob(tenantA, [upload(tenantA, 700, sha)]);
    const documentId = job.documents[0]!.id;
    const work = await claimExtraction(tenantA, documentId);
    expect((await extraction.reuseExtraction(work, 'test-key', indexCommand(work))).outcome).toBe('reused');
    const indexWork = await claimIndexing(tenantA, documentId);
    expect((await indexing.reuseIndexing(indexWork, MODEL)).outcome).toBe('reused');

    expect(await usageOfJob(job.id)).toEqual({ documents: 1, storage_bytes: 700 });
  });

  it("meters an analysis's kept items as they are kept and the rest of its tokens when it ends, once", async () => {
    const { job } = await analyses.createAnalysisJob({
      id: uuidv7(),
      tenantId: tenantA,
      input: { type: 'summarize', length: 'short', documentIds: [uuidv7()] },
      idempotencyKey: null,
      traceparent: TRACEPARENT,
      traceId: null,
    });
    expect(await analyses.claimAnalysis(tenantA, job.id)).toMatchObject({ claimed: true });
    const documentId = uuidv7();
    const item = { output: { labels: ['a'] }, tokens: { promptTokens: 100, completionTokens: 20 } };
    const progress = { step: 'classifying', done: 1, total: 2 };
    await analyses.saveItem(job.id, documentId, item, progress);
    // Two deliveries raced on the item: the first one kept stands, and so does its count.
    await analyses.saveItem(job.id, documentId, item, progress);
    expect(await usageOfJob(job.id)).toEqual({ llm_tokens: 120 });
    // A key that names no document is kept but not metered on its own: the job's end counts it.
    await analyses.saveItem(
      job.id,
      'not-a-document',
      { tokens: { promptTokens: 7, completionTokens: 3 } },
      progress,
    );
    expect(await usageOfJob(job.id)).toEqual({ llm_tokens: 120 });

    const result: WorkerJobResult = {
      type: 'summarize',
      method: 'llm',
      summary: 'short',
      citations: [],
      usage: { model: 'llm', calls: 3, promptTokens: 140, completionTokens: 35, totalTokens: 175 },
    };
    expect(await analyses.finishAnalysis(tenantA, job.id, { result })).toBe(true);
    expect(await analyses.finishAnalysis(tenantA, job.id, { result })).toBe(false);
    expect(await usageOfJob(job.id)).toEqual({ llm_tokens: 175 });
    const rows = await prisma.$queryRaw<{ subject_id: string; quantity: number }[]>`
      SELECT subject_id::text, quantity::float8 FROM usage_records WHERE job_id = ${job.id}::uuid ORDER BY quantity`;
    expect(rows).toEqual([
      { subject_id: job.id, quantity: 55 },
      { subject_id: documentId, quantity: 120 },
    ]);
  });

  it('keeps the tokens of the items of an analysis that failed', async () => {
    const { job } = await analyses.createAnalysisJob({
      id: uuidv7(),
      tenantId: tenantA,
      input: { type: 'extract', schema: { type: 'object' }, documentIds: [uuidv7()] },
      idempotencyKey: null,
      traceparent: TRACEPARENT,
      traceId: null,
    });
    await analyses.claimAnalysis(tenantA, job.id);
    const item = { output: {}, tokens: { promptTokens: 40, completionTokens: 2 } };
    await analyses.saveItem(job.id, uuidv7(), item, { step: 'extracting', done: 1, total: 3 });
    const error = { code: 'llm_unavailable' as const, message: 'the model did not answer' };
    expect(await analyses.finishAnalysis(tenantA, job.id, { error })).toBe(true);
    expect(await usageOfJob(job.id)).toEqual({ llm_tokens: 42 });
  });

  it('meters what a re-embed moved, per document, once', async () => {
    const job = await newJob(tenantA, [upload(tenantA, 1)]);
    const documentId = job.documents[0]!.id;
    await processDocument(tenantA, job.id, documentId);
    const { job: reindex } = await analyses.createAnalysisJob({
      id: uuidv7(),
      tenantId: tenantA,
      input: { type: 'reindex', model: 'next-model' },
      idempotencyKey: null,
      traceparent: TRACEPARENT,
      traceId: null,
    });
    await analyses.claimAnalysis(tenantA, reindex.id);
    const stored = await analyses.chunksNotUnder(tenantA, documentId, 'next-model');
    const vectors = stored.map((c) => ({ id: c.id, embedding: new Float32Array([0, 0, 1, 0]) }));
    const move = () =>
      analyses.moveChunks(
        tenantA,
        reindex.id,
        { id: 'next-model', dim: 4 },
        vectors,
        { key: documentId, output: { fromModels: [MODEL.id] } },
        { step: 'embedding', done: 1, total: 1 },
      );
    expect(await move()).toBe(3);
    expect(await move()).toBe(0);
    expect(await usageOfJob(reindex.id)).toEqual({ chunks_embedded: 3, embedding_tokens: 18 });
  });

  it("meters a crawler's delivered pages and their bytes once, however often the delivery comes", async () => {
    const pageDoc = (url: string, failed: boolean): NewDocument => {
      const id = uuidv7();
      return {
        id,
        filename: 'page.md',
        claimedContentType: failed ? null : 'text/markdown',
        sha256: failed ? null : createHash('sha256').update(url).digest('hex'),
        sizeBytes: failed ? null : 42,
        blobKey: `${tenantA}/${id}`,
        source: 'crawl',
        sourceUrl: url,
        ...(failed ? { failed: { code: 'url_http_error' as const, message: 'HTTP 404' } } : {}),
      };
    };
    const deliveryId = randomBytes(8).toString('hex');
    const receive = () =>
      crawls.receive({
        tenantId: tenantA,
        source: 'firecrawl',
        deliveryId,
        eventType: 'crawl.page',
        crawlRef: `firecrawl:${randomBytes(4).toString('hex')}-${deliveryId}`,
        newJob: { id: uuidv7(), lane: 'bulk', traceparent: TRACEPARENT, traceId: null },
        documents: [pageDoc('https://example.com/a', false), pageDoc('https://example.com/gone', true)],
        command: (c) => ({
          tenantId: tenantA,
          jobId: c.jobId,
          subject: topo.commandSubject('ingestDocument', c.lane),
          msgId: MessageIds.command('ingestDocument', c.jobId, c.documentId),
          payload: { v: 1, jobId: c.jobId, tenantId: tenantA, documentId: c.documentId },
          headers: {},
        }),
      });
    const first = await receive();
    if (first.outcome !== 'accepted') throw new Error(first.outcome);
    expect((await receive()).outcome).toBe('duplicate');
    expect(await usageOfJob(first.jobId)).toEqual({ documents: 1, storage_bytes: 42 });
  });
});

describe('UsageRepository', () => {
  /** A tenant of its own whose records are written on chosen days, with the daily totals they add up to. */
  async function tenantWithHistory(): Promise<string> {
    const tenantId = (
      await new TenantsRepository(prisma).ensureTenantWithKey(
        `history-${randomBytes(4).toString('hex')}`,
        `key-history-${randomBytes(8).toString('hex')}`,
      )
    ).tenantId;
    const records: [string, string, number][] = [
      ['2026-11-30T23:59:59Z', 'pages_parsed', 1],
      ['2026-12-01T00:00:00Z', 'pages_parsed', 10],
      ['2026-12-01T12:00:00Z', 'pages_parsed', 20],
      ['2026-12-01T12:00:00Z', 'storage_bytes', 4096],
      ['2026-12-02T08:00:00Z', 'embedding_tokens', 500],
      ['2026-12-03T06:00:00Z', 'pages_parsed', 300],
      ['2026-12-03T18:00:00Z', 'pages_parsed', 4000],
    ];
    for (const [at, metric, quantity] of records) {
      await prisma.$executeRaw`
        INSERT INTO usage_records (tenant_id, job_id, subject_id, metric, quantity, occurred_at)
        VALUES (${tenantId}::uuid, ${uuidv7()}::uuid, ${uuidv7()}::uuid, ${metric}, ${quantity}, ${new Date(at)})`;
    }
    await prisma.$executeRaw`
      INSERT INTO usage_daily (tenant_id, metric, day, quantity)
      SELECT tenant_id, metric, (occurred_at AT TIME ZONE 'UTC')::date, sum(quantity) FROM usage_records
      WHERE tenant_id = ${tenantId}::uuid GROUP BY 1, 2, 3`;
    return tenantId;
  }

  it('sums a range by UTC day: whole days and the partial days at its ends', async () => {
    const tenantId = await tenantWithHistory();
    expect(
      await usage.usageByDay(tenantId, new Date('2026-12-01T06:00:00Z'), new Date('2026-12-03T12:00:00Z')),
    ).toEqual([
      { day: '2026-12-01', metric: 'pages_parsed', quantity: 20 },
      { day: '2026-12-01', metric: 'storage_bytes', quantity: 4096 },
      { day: '2026-12-02', metric: 'embedding_tokens', quantity: 500 },
      { day: '2026-12-03', metric: 'pages_parsed', quantity: 300 },
    ]);
    expect(
      await usage.usageByDay(tenantId, new Date('2026-12-01T00:00:00Z'), new Date('2026-12-04T00:00:00Z')),
    ).toEqual([
      { day: '2026-12-01', metric: 'pages_parsed', quantity: 30 },
      { day: '2026-12-01', metric: 'storage_bytes', quantity: 4096 },
      { day: '2026-12-02', metric: 'embedding_tokens', quantity: 500 },
      { day: '2026-12-03', metric: 'pages_parsed', quantity: 4300 },
    ]);
    expect(
      await usage.usageByDay(tenantId, new Date('2026-11-30T23:00:00Z'), new Date('2026-12-01T00:00:01Z')),
    ).toEqual([
      { day: '2026-11-30', metric: 'pages_parsed', quantity: 1 },
      { day: '2026-12-01', metric: 'pages_parsed', quantity: 10 },
    ]);
  });

  it("reads one tenant's usage only", async () => {
    const tenantId = await tenantWithHistory();
    const december = [new Date('2026-12-01T00:00:00Z'), new Date('2027-01-01T00:00:00Z')] as const;
    expect(await usage.usageByDay(tenantId, ...december)).toHaveLength(4);
    expect(await usage.usageByDay(tenantB, ...december)).toEqual([]);
    expect(await usage.quotaStanding(tenantB, '2026-12-01', '2027-01-01')).toEqual({
      overrides: { pagesPerMonth: null, embeddingTokensPerMonth: null },
      used: { pages: 0, embeddingTokens: 0 },
    });
  });

  it("gives a quota check the tenant's overrides and its pages and tokens of the period", async () => {
    const tenantId = await tenantWithHistory();
    await prisma.$executeRaw`
      UPDATE tenants SET quota_pages_per_month = 5000, quota_embedding_tokens_per_month = 0
      WHERE id = ${tenantId}::uuid`;
    expect(await usage.quotaStanding(tenantId, '2026-12-01', '2027-01-01')).toEqual({
      overrides: { pagesPerMonth: 5000, embeddingTokensPerMonth: 0 },
      used: { pages: 4330, embeddingTokens: 500 },
    });
    expect(await usage.quotaStanding(tenantId, '2026-11-01', '2026-12-01')).toMatchObject({
      used: { pages: 1, embeddingTokens: 0 },
    });
    expect(await usage.quotaStanding(uuidv7(), '2026-12-01', '2027-01-01')).toBeNull();
  });
});
