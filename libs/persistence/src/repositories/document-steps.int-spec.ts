import { createHash, randomBytes } from 'node:crypto';
import { Client } from 'pg';
import {
  IndexDocumentCommand,
  JobEvent,
  MessageIds,
  topology,
  uuidv7,
  type ErrorInfo,
} from '@quarry/contracts';
import { findMigrationsDir, runMigrations } from '@quarry/migrations';
import { createEmptyDatabase, type TestDatabase } from '@quarry/test-kit';
import { createPrismaClient, type PrismaClient } from '../prisma';
import { RecordingAfterCommit } from './__fixtures__/recording-after-commit';
import type { AfterCommit, Committed } from './after-commit';
import { JobsRepository, TenantsRepository } from './jobs.repository';
import { ExtractionRepository } from './extraction.repository';
import { IndexingRepository } from './indexing.repository';
import { JobControlRepository } from './job-control.repository';
import type { ChunkInput, DocumentWork, OutboxInsert, PageInput } from './types';

// The job state machine on a real, migrated PostgreSQL: no mocks. Each test makes its own job, so
// tests share one database and stay independent.

const topo = topology('qt_pipeline');

let db: TestDatabase | undefined;
let prisma: PrismaClient;
let jobs: JobsRepository;
let extractionStep: ExtractionRepository;
let indexStep: IndexingRepository;
let jobControl: JobControlRepository;
/** What every commit of `jobs` and the step repositories handed the after-commit port. */
const after = new RecordingAfterCommit();
let tenantA: string;
let tenantB: string;

beforeAll(async () => {
  db = await createEmptyDatabase('pipeline', { create: false });
  await runMigrations({ databaseUrl: db.url, migrationsDir: findMigrationsDir(__dirname) });
  // Room for the concurrency tests: every document's transaction gets its own connection.
  prisma = createPrismaClient({ databaseUrl: db.url, poolMax: 12 });
  jobs = new JobsRepository(prisma, after);
  extractionStep = new ExtractionRepository(prisma, topo, after);
  indexStep = new IndexingRepository(prisma, topo, after);
  jobControl = new JobControlRepository(prisma, topo, after);
  const tenants = new TenantsRepository(prisma);
  tenantA = (await tenants.ensureTenantWithKey('tenant-a', 'key-a-0123456789')).tenantId;
  tenantB = (await tenants.ensureTenantWithKey('tenant-b', 'key-b-0123456789')).tenantId;
});

afterAll(async () => {
  await prisma?.$disconnect();
  await db?.drop();
});

interface TestJob {
  jobId: string;
  tenantId: string;
  docIds: string[];
  traceId: string;
  traceparent: string;
}

async function newJob(tenantId: string, documents: number, repository = jobs): Promise<TestJob> {
  const jobId = uuidv7();
  const traceId = randomBytes(16).toString('hex');
  const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
  const docs = Array.from({ length: documents }, (_, i) => {
    const id = uuidv7();
    return {
      id,
      filename: `doc-${i + 1}.txt`,
      claimedContentType: 'text/plain',
      sha256: createHash('sha256').update(id).digest('hex'),
      sizeBytes: 100 + i,
      blobKey: `blobs/${id}`,
    };
  });
  await repository.createIngestJob({
    id: jobId,
    tenantId,
    idempotencyKey: null,
    traceparent,
    traceId,
    documents: docs,
    outbox: docs.map((d) => ({
      tenantId,
      jobId,
      subject: topo.commandSubject('ingestDocument'),
      msgId: MessageIds.command('ingestDocument', jobId, d.id),
      payload: { v: 1, jobId, tenantId, documentId: d.id, traceparent },
      headers: { traceparent },
    })),
  });
  return { jobId, tenantId, docIds: docs.map((d) => d.id), traceId, traceparent };
}

/** The outbox row the ingest worker writes for the index step (as IngestDocumentHandler builds it). */
function indexCommandRow(work: DocumentWork): OutboxInsert {
  const payload: IndexDocumentCommand = {
    v: 1,
    jobId: work.jobId,
    tenantId: work.tenantId,
    documentId: work.documentId,
  };
  return {
    tenantId: work.tenantId,
    jobId: work.jobId,
    subject: topo.commandSubject('indexDocument'),
    msgId: MessageIds.command('indexDocument', work.jobId, work.documentId),
    payload,
    headers: {},
  };
}

const PAGES: PageInput[] = [
  { pageNumber: 2, text: 'second page' },
  { pageNumber: 1, text: 'first page' },
];

function chunksOf(texts: string[], dim = 4): ChunkInput[] {
  return texts.map((text, i) => ({
    pageNumber: 1,
    ordinal: i,
    text,
    tokenCount: 2,
    charStart: 0,
    charEnd: text.length,
    embedding: Float32Array.from({ length: dim }, (_, k) => (k === i % dim ? 1 : 0)),
  }));
}

async function claimed(
  claim: Promise<{ claimed: true; work: DocumentWork } | { claimed: false; reason: string }>,
): Promise<DocumentWork> {
  const c = await claim;
  if (!c.claimed) throw new Error(`expected a claim, got ${c.reason}`);
  return c.work;
}

/** queued → extracting → extracted → indexing; returns the work for completeIndexing. */
async function toIndexing(tenantId: string, documentId: string): Promise<DocumentWork> {
  const work = await claimed(extractionStep.claimForExtraction(tenantId, documentId));
  expect(
    await extractionStep.completeExtraction(
      work,
      { detectedType: 'text', pages: PAGES },
      indexCommandRow(work),
    ),
  ).not.toBeNull();
  return claimed(indexStep.claimForIndexing(tenantId, documentId));
}

const corrupt: ErrorInfo = { code: 'corrupt_pdf', message: 'xref table is broken' };

const jobRow = (jobId: string) => prisma.job.findUniqueOrThrow({ where: { id: jobId } });
const stepsOf = async (jobId: string) =>
  Object.fromEntries(
    (await prisma.jobStep.findMany({ where: { jobId } })).map((s) => [
      s.name,
      { status: s.status, done: s.done, total: s.total },
    ]),
  );
const statusEvents = async (jobId: string) =>
  (await prisma.jobEvent.findMany({ where: { jobId, kind: 'status' }, orderBy: { id: 'asc' } })).map(
    (e) => `${e.fromStatus ?? '-'}→${e.toStatus ?? '-'}`,
  );
const jobEventOutbox = (jobId: string) =>
  prisma.outbox.findMany({ where: { jobId, subject: { startsWith: topo.subject('events.job.') } } });

/** Everything a no-op must leave as it was. */
async function snapshot(job: TestJob) {
  const [j, documents, steps, events, outbox, pages, chunks] = await Promise.all([
    jobRow(job.jobId),
    prisma.document.findMany({ where: { jobId: job.jobId }, orderBy: { id: 'asc' } }),
    prisma.jobStep.findMany({ where: { jobId: job.jobId }, orderBy: { name: 'asc' } }),
    prisma.jobEvent.count({ where: { jobId: job.jobId } }),
    prisma.outbox.count({ where: { jobId: job.jobId } }),
    prisma.page.count({ where: { documentId: { in: job.docIds } } }),
    prisma.chunk.count({ where: { documentId: { in: job.docIds } } }),
  ]);
  return { job: j, documents, steps, events, outbox, pages, chunks };
}

/**
 * Waits until `n` sessions of this database are blocked on a lock. `client` must not be inside a
 * transaction: pg_stat_activity is a snapshot taken once per transaction.
 */
async function untilLockWaiters(client: Client, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if ((rows[0]?.n ?? 0) >= n) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} lock waiter(s)`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('the step repositories and job control (job state machine on PostgreSQL)', () => {
  it('takes a job queued → running → succeeded with step counts, an event log and one completion event', async () => {
    const job = await newJob(tenantA, 2);
    const [d1, d2] = job.docIds as [string, string];
    expect((await jobRow(job.jobId)).status).toBe('queued');

    const w1 = await claimed(extractionStep.claimForExtraction(tenantA, d1));
    expect(w1).toEqual({
      documentId: d1,
      tenantId: tenantA,
      jobId: job.jobId,
      filename: 'doc-1.txt',
      blobKey: `blobs/${d1}`,
      sha256: createHash('sha256').update(d1).digest('hex'),
      traceparent: job.traceparent,
      source: 'upload',
      sourceUrl: null,
      claimedContentType: 'text/plain',
      depth: 0,
      // The job as the claim saw it under the lock: its completion prepares the job's ending from it.
      job: { type: 'ingest', traceId: job.traceId, stepTotal: 2 },
    });
    const running = await jobRow(job.jobId);
    expect(running.status).toBe('running');
    expect(running.startedAt).not.toBeNull();
    expect(await stepsOf(job.jobId)).toEqual({
      ingest: { status: 'running', done: 0, total: 2 },
      index: { status: 'queued', done: 0, total: 2 },
    });

    const next = await extractionStep.completeExtraction(
      w1,
      { detectedType: 'text', pages: PAGES },
      indexCommandRow(w1),
    );
    expect(next).toEqual([
      expect.objectContaining({
        id: expect.stringMatching(/^\d+$/) as unknown,
        subject: topo.commandSubject('indexDocument'),
        msgId: MessageIds.command('indexDocument', job.jobId, d1),
      }),
    ]);
    expect(await indexStep.loadPages(tenantA, d1)).toEqual([
      { pageNumber: 1, text: 'first page' },
      { pageNumber: 2, text: 'second page' },
    ]);
    expect(await prisma.document.findUniqueOrThrow({ where: { id: d1 } })).toMatchObject({
      status: 'extracted',
      detectedType: 'text',
      pageCount: 2,
      attempts: 1,
    });
    expect((await stepsOf(job.jobId)).ingest).toEqual({ status: 'running', done: 1, total: 2 });

    const w2 = await toIndexing(tenantA, d2);
    expect((await stepsOf(job.jobId)).ingest).toEqual({ status: 'succeeded', done: 2, total: 2 });
    const w1i = await claimed(indexStep.claimForIndexing(tenantA, d1));

    const model = { id: 'test-model', dim: 4 };
    expect(await indexStep.completeIndexing(w1i, chunksOf(['a', 'b', 'c']), model)).toEqual([]);
    expect((await jobRow(job.jobId)).status).toBe('running');
    expect((await stepsOf(job.jobId)).index).toEqual({ status: 'running', done: 1, total: 2 });

    const final = await indexStep.completeIndexing(w2, chunksOf(['d']), model);
    const eventMsgId = MessageIds.jobEvent(job.jobId, 'completed');
    expect(final).toHaveLength(1);
    expect(final?.[0]).toMatchObject({
      tenantId: tenantA,
      jobId: job.jobId,
      subject: topo.eventSubject('completed'),
      msgId: eventMsgId,
      headers: { traceparent: job.traceparent },
    });
    const event = JobEvent.parse(final?.[0]?.payload);
    expect(event).toMatchObject({
      jobId: job.jobId,
      tenantId: tenantA,
      type: 'ingest',
      status: 'succeeded',
      documents: { total: 2, succeeded: 2, failed: 0 },
      traceId: job.traceId,
    });
    expect(event.error).toBeUndefined();

    const done = await jobRow(job.jobId);
    expect(done).toMatchObject({
      status: 'succeeded',
      error: null,
      progress: { step: 'index', done: 2, total: 2 },
    });
    expect(done.finishedAt).not.toBeNull();
    expect(await stepsOf(job.jobId)).toEqual({
      ingest: { status: 'succeeded', done: 2, total: 2 },
      index: { status: 'succeeded', done: 2, total: 2 },
    });
    expect(await prisma.document.findMany({ where: { jobId: job.jobId }, orderBy: { id: 'asc' } })).toEqual([
      expect.objectContaining({ id: d1, status: 'indexed', chunkCount: 3 }),
      expect.objectContaining({ id: d2, status: 'indexed', chunkCount: 1 }),
    ]);
    expect(
      await prisma.chunk.count({ where: { documentId: d1, embeddingModel: 'test-model', embeddingDim: 4 } }),
    ).toBe(3);
    expect(await statusEvents(job.jobId)).toEqual(['-→queued', 'queued→running', 'running→succeeded']);

    const events = await jobEventOutbox(job.jobId);
    expect(events.map((r) => r.msgId)).toEqual([eventMsgId]);
    // 2 ingest commands (gateway) + 2 index commands + 1 job event, each exactly once.
    expect(await prisma.outbox.count({ where: { jobId: job.jobId } })).toBe(5);
  });

  it('answers a redelivered claim with already_done (job active) or job_finished (job over) and changes nothing', async () => {
    const job = await newJob(tenantA, 2);
    const [d1, d2] = job.docIds as [string, string];
    const w1 = await toIndexing(tenantA, d1);

    // d1 is past extraction: a redelivered ingest command must not extract it again.
    let before = await snapshot(job);
    expect(await extractionStep.claimForExtraction(tenantA, d1)).toEqual({
      claimed: false,
      reason: 'already_done',
    });
    expect(await snapshot(job)).toEqual(before);

    await indexStep.completeIndexing(w1, chunksOf(['x']), { id: 'm', dim: 4 });
    before = await snapshot(job);
    expect(await indexStep.claimForIndexing(tenantA, d1)).toEqual({ claimed: false, reason: 'already_done' });
    expect(await extractionStep.claimForExtraction(tenantA, d1)).toEqual({
      claimed: false,
      reason: 'already_done',
    });
    expect(await snapshot(job)).toEqual(before);

    const w2 = await toIndexing(tenantA, d2);
    await indexStep.completeIndexing(w2, chunksOf(['y']), { id: 'm', dim: 4 });
    expect((await jobRow(job.jobId)).status).toBe('succeeded');
    before = await snapshot(job);
    for (const d of [d1, d2]) {
      expect(await extractionStep.claimForExtraction(tenantA, d)).toEqual({
        claimed: false,
        reason: 'job_finished',
      });
      expect(await indexStep.claimForIndexing(tenantA, d)).toEqual({
        claimed: false,
        reason: 'job_finished',
      });
    }
    expect(await snapshot(job)).toEqual(before);
  });

  it('keeps one set of pages and one index command when extraction completes twice', async () => {
    const job = await newJob(tenantA, 2);
    const d1 = job.docIds[0] as string;
    // Two deliveries of the same command (the first outlived its ack_wait): both may claim.
    const first = await claimed(extractionStep.claimForExtraction(tenantA, d1));
    const second = await claimed(extractionStep.claimForExtraction(tenantA, d1));

    expect(
      await extractionStep.completeExtraction(
        first,
        { detectedType: 'text', pages: PAGES },
        indexCommandRow(first),
      ),
    ).toHaveLength(1);
    const other = [{ pageNumber: 1, text: 'a different extraction' }];
    expect(
      await extractionStep.completeExtraction(
        second,
        { detectedType: 'pdf', pages: other },
        indexCommandRow(second),
      ),
    ).toBeNull();
    // And the redelivery after a crash between commit and ack finds the work done.
    expect(await extractionStep.claimForExtraction(tenantA, d1)).toEqual({
      claimed: false,
      reason: 'already_done',
    });

    expect(await indexStep.loadPages(tenantA, d1)).toEqual([
      { pageNumber: 1, text: 'first page' },
      { pageNumber: 2, text: 'second page' },
    ]);
    expect(await prisma.document.findUniqueOrThrow({ where: { id: d1 } })).toMatchObject({
      status: 'extracted',
      detectedType: 'text',
      pageCount: 2,
    });
    const indexRows = await prisma.outbox.findMany({
      where: { jobId: job.jobId, subject: topo.commandSubject('indexDocument') },
    });
    expect(indexRows.map((r) => r.msgId)).toEqual([MessageIds.command('indexDocument', job.jobId, d1)]);
    expect((await stepsOf(job.jobId)).ingest).toEqual({ status: 'running', done: 1, total: 2 });
  });

  it('keeps one set of chunks when indexing completes twice', async () => {
    const job = await newJob(tenantA, 2);
    const d1 = job.docIds[0] as string;
    const first = await toIndexing(tenantA, d1);
    const second = await claimed(indexStep.claimForIndexing(tenantA, d1));

    expect(await indexStep.completeIndexing(first, chunksOf(['a', 'b']), { id: 'm', dim: 4 })).toEqual([]);
    expect(
      await indexStep.completeIndexing(second, chunksOf(['c', 'd', 'e']), { id: 'm2', dim: 4 }),
    ).toBeNull();

    const chunks = await prisma.chunk.findMany({ where: { documentId: d1 }, orderBy: { ordinal: 'asc' } });
    expect(chunks.map((c) => [c.text, c.embeddingModel])).toEqual([
      ['a', 'm'],
      ['b', 'm'],
    ]);
    expect(await prisma.document.findUniqueOrThrow({ where: { id: d1 } })).toMatchObject({
      status: 'indexed',
      chunkCount: 2,
    });
    expect((await stepsOf(job.jobId)).index).toEqual({ status: 'running', done: 1, total: 2 });
  });

  it('refuses every transition once the job is terminal (cancelled)', async () => {
    const job = await newJob(tenantA, 3);
    const [d1, d2, d3] = job.docIds as [string, string, string];
    const w1 = await claimed(extractionStep.claimForExtraction(tenantA, d1));
    const w2 = await toIndexing(tenantA, d2);
    await prisma.$executeRaw`UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE id = ${job.jobId}::uuid`;
    const before = await snapshot(job);
    const told = after.commits.length;

    expect(await extractionStep.claimForExtraction(tenantA, d3)).toEqual({
      claimed: false,
      reason: 'job_finished',
    });
    expect(await extractionStep.claimForExtraction(tenantA, d1)).toEqual({
      claimed: false,
      reason: 'job_finished',
    });
    expect(await indexStep.claimForIndexing(tenantA, d2)).toEqual({ claimed: false, reason: 'job_finished' });
    expect(
      await extractionStep.completeExtraction(
        w1,
        { detectedType: 'text', pages: PAGES },
        indexCommandRow(w1),
      ),
    ).toBeNull();
    expect(await indexStep.completeIndexing(w2, chunksOf(['a']), { id: 'm', dim: 4 })).toBeNull();
    expect(await jobControl.failDocument(w1, corrupt)).toEqual([]);
    await jobControl.reportProgress(job.jobId, { step: 'ingest', done: 9, total: 9 });

    expect(await snapshot(job)).toEqual(before);
    expect(await jobEventOutbox(job.jobId)).toEqual([]);
    // Nothing written, nothing told.
    expect(after.commits.length).toBe(told);
  });

  it('finishes a job with mixed outcomes as completed_with_failures, with the failed document’s error code', async () => {
    const job = await newJob(tenantA, 3);
    const [d1, d2, d3] = job.docIds as [string, string, string];
    const w1 = await toIndexing(tenantA, d1);
    const w2 = await claimed(extractionStep.claimForExtraction(tenantA, d2));
    expect(await jobControl.failDocument(w2, corrupt)).toEqual([]);
    // Failing it again (a redelivery) records nothing new.
    expect(await jobControl.failDocument(w2, { code: 'internal', message: 'again' })).toEqual([]);
    await indexStep.completeIndexing(w1, chunksOf(['a']), { id: 'm', dim: 4 });
    const w3 = await toIndexing(tenantA, d3);
    const rows = await indexStep.completeIndexing(w3, chunksOf(['b']), { id: 'm', dim: 4 });

    expect(rows?.map((r) => [r.subject, r.msgId])).toEqual([
      [topo.eventSubject('completed'), MessageIds.jobEvent(job.jobId, 'completed')],
    ]);
    expect(JobEvent.parse(rows?.[0]?.payload)).toMatchObject({
      status: 'completed_with_failures',
      documents: { total: 3, succeeded: 2, failed: 1 },
      error: { code: 'corrupt_pdf', message: '1 of 3 document(s) failed' },
    });
    const done = await jobRow(job.jobId);
    expect(done.status).toBe('completed_with_failures');
    expect(done.error).toMatchObject({ code: 'corrupt_pdf' });
    expect(await prisma.document.findUniqueOrThrow({ where: { id: d2 } })).toMatchObject({
      status: 'failed',
      error: corrupt,
    });
    const failedEvents = await prisma.jobEvent.findMany({
      where: { jobId: job.jobId, kind: 'document_failed' },
    });
    expect(failedEvents.map((e) => e.data)).toEqual([{ documentId: d2, from: 'extracting', error: corrupt }]);
    expect(await statusEvents(job.jobId)).toEqual([
      '-→queued',
      'queued→running',
      'running→completed_with_failures',
    ]);
    // A finished job has no step left running.
    const steps = await prisma.jobStep.findMany({ where: { jobId: job.jobId } });
    expect(steps.filter((s) => s.status === 'queued' || s.status === 'running')).toEqual([]);
    expect(steps.every((s) => s.finishedAt !== null)).toBe(true);
    expect(await jobEventOutbox(job.jobId)).toHaveLength(1);
  });

  it('ends a job in the statement that indexes its last document, with its event and outbox row', async () => {
    const job = await newJob(tenantA, 2);
    const [d1, d2] = job.docIds as [string, string];
    const w1 = await toIndexing(tenantA, d1);
    const w2 = await toIndexing(tenantA, d2);
    expect(await indexStep.completeIndexing(w1, chunksOf(['a']), { id: 'm', dim: 4 })).toEqual([]);
    const rows = await indexStep.completeIndexing(w2, chunksOf(['b']), { id: 'm', dim: 4 });

    expect(rows?.map((r) => r.msgId)).toEqual([MessageIds.jobEvent(job.jobId, 'completed')]);
    expect(JobEvent.parse(rows?.[0]?.payload)).toMatchObject({
      status: 'succeeded',
      documents: { total: 2, succeeded: 2, failed: 0 },
      traceId: job.traceId,
    });
    // now() is the transaction's start: equal times mean one statement moved the document and ended the job.
    const done = await jobRow(job.jobId);
    const last = await prisma.document.findUniqueOrThrow({ where: { id: d2 } });
    expect(done.status).toBe('succeeded');
    expect(done.finishedAt?.getTime()).toBe(last.updatedAt.getTime());
    expect(done.progress).toEqual({ step: 'index', done: 2, total: 2 });
    expect(done.error).toBeNull();
    expect(await statusEvents(job.jobId)).toEqual(['-→queued', 'queued→running', 'running→succeeded']);
    expect(await stepsOf(job.jobId)).toEqual({
      ingest: { status: 'succeeded', done: 2, total: 2 },
      index: { status: 'succeeded', done: 2, total: 2 },
    });
    expect(await jobEventOutbox(job.jobId)).toHaveLength(1);
  });

  it('counts a document that failed when it joined: the last indexed one ends the job completed_with_failures', async () => {
    // The index step's counter leaves out documents stored failed at creation, so it reaches its total while
    // the job has a failure: the ending must come from the documents, not from the counter alone.
    const job = await newJob(tenantA, 1);
    const [d1] = job.docIds as [string];
    const refused = uuidv7();
    await prisma.document.create({
      data: {
        id: refused,
        tenantId: tenantA,
        jobId: job.jobId,
        filename: 'refused.eml',
        blobKey: `blobs/${refused}`,
        status: 'failed',
        error: { ...corrupt },
        source: 'attachment',
        parentDocumentId: d1,
        depth: 1,
      },
    });
    const work = await toIndexing(tenantA, d1);
    const rows = await indexStep.completeIndexing(work, chunksOf(['a']), { id: 'm', dim: 4 });

    expect(JobEvent.parse(rows?.[0]?.payload)).toMatchObject({
      status: 'completed_with_failures',
      documents: { total: 2, succeeded: 1, failed: 1 },
      error: { code: 'corrupt_pdf' },
    });
    expect((await jobRow(job.jobId)).status).toBe('completed_with_failures');
  });

  it('ends the job on a redelivered claim when the delivery before committed its last document and died', async () => {
    // The index completion commits before the job's tally; a worker killed between the two leaves an active job
    // with every document indexed and the message unacknowledged. Its redelivery's claim settles the job.
    const job = await newJob(tenantA, 1);
    const [d1] = job.docIds as [string];
    await toIndexing(tenantA, d1);
    await prisma.$executeRaw`UPDATE documents SET status = 'indexed', chunk_count = 0 WHERE id = ${d1}::uuid`;
    const ended = after.commits.length;

    expect(await indexStep.claimForIndexing(tenantA, d1)).toEqual({ claimed: false, reason: 'already_done' });
    const done = await jobRow(job.jobId);
    expect(done.status).toBe('succeeded');
    expect(await statusEvents(job.jobId)).toEqual(['-→queued', 'queued→running', 'running→succeeded']);
    const told = after.commits.slice(ended);
    expect(told.flatMap((c) => c.finishedJobs.map((f) => [f.jobId, f.status]))).toEqual([
      [job.jobId, 'succeeded'],
    ]);
    expect(told.flatMap((c) => c.outbox.map((r) => r.msgId))).toEqual([
      MessageIds.jobEvent(job.jobId, 'completed'),
    ]);
    // A further redelivery finds the job over and changes nothing.
    const before = await snapshot(job);
    expect(await indexStep.claimForIndexing(tenantA, d1)).toEqual({ claimed: false, reason: 'job_finished' });
    expect(await snapshot(job)).toEqual(before);
  });

  it('fails the job when every document failed, with an events.job.failed row', async () => {
    const job = await newJob(tenantA, 2);
    const [d1, d2] = job.docIds as [string, string];
    const w1 = await claimed(extractionStep.claimForExtraction(tenantA, d1));
    expect(await jobControl.failDocument(w1, corrupt)).toEqual([]);
    // d2 was never claimed: its command was dead-lettered (onDeadLetter passes the command's ids).
    const rows = await jobControl.failDocument(
      { jobId: job.jobId, tenantId: tenantA, documentId: d2 },
      { code: 'delivery_exhausted', message: 'gave up after 5 deliveries' },
    );

    expect(rows.map((r) => [r.subject, r.msgId, r.headers])).toEqual([
      [
        topo.eventSubject('failed'),
        MessageIds.jobEvent(job.jobId, 'failed'),
        { traceparent: job.traceparent },
      ],
    ]);
    expect(JobEvent.parse(rows[0]?.payload)).toMatchObject({
      status: 'failed',
      documents: { total: 2, succeeded: 0, failed: 2 },
      error: { code: 'corrupt_pdf', message: 'all 2 document(s) failed' },
    });
    const done = await jobRow(job.jobId);
    expect(done).toMatchObject({ status: 'failed', error: { code: 'corrupt_pdf' } });
    expect(done.finishedAt).not.toBeNull();
    expect(await statusEvents(job.jobId)).toEqual(['-→queued', 'queued→running', 'running→failed']);
    expect((await jobEventOutbox(job.jobId)).map((r) => r.subject)).toEqual([topo.eventSubject('failed')]);
  });

  it('records the real previous status when a job that never started fails', async () => {
    const job = await newJob(tenantA, 1);
    const rows = await jobControl.failDocument(
      { jobId: job.jobId, tenantId: tenantA, documentId: job.docIds[0] as string },
      { code: 'delivery_exhausted', message: 'gave up' },
    );
    expect(rows.map((r) => r.subject)).toEqual([topo.eventSubject('failed')]);
    expect(await statusEvents(job.jobId)).toEqual(['-→queued', 'queued→failed']);
    expect((await jobRow(job.jobId)).status).toBe('failed');
  });

  it('finishes a job whose 8 documents complete in parallel exactly once', async () => {
    const job = await newJob(tenantA, 8);
    // Parallel claims: exactly one of them starts the job.
    const works = await Promise.all(
      job.docIds.map((d) => claimed(extractionStep.claimForExtraction(tenantA, d))),
    );
    expect(await statusEvents(job.jobId)).toEqual(['-→queued', 'queued→running']);
    const next = await Promise.all(
      works.map((w) =>
        extractionStep.completeExtraction(w, { detectedType: 'text', pages: PAGES }, indexCommandRow(w)),
      ),
    );
    expect(next.map((r) => r?.length)).toEqual(Array(8).fill(1));
    const indexing = await Promise.all(
      job.docIds.map((d) => claimed(indexStep.claimForIndexing(tenantA, d))),
    );

    const results = await Promise.all(
      indexing.map((w, i) => indexStep.completeIndexing(w, chunksOf([`text ${i}`]), { id: 'm', dim: 4 })),
    );

    expect(results.filter((r) => r !== null && r.length > 0)).toHaveLength(1);
    // Ended once, so told (and counted) once.
    expect(after.finishedJobs.filter((j) => j.jobId === job.jobId).map((j) => j.status)).toEqual([
      'succeeded',
    ]);
    expect(await statusEvents(job.jobId)).toEqual(['-→queued', 'queued→running', 'running→succeeded']);
    expect((await jobEventOutbox(job.jobId)).map((r) => r.msgId)).toEqual([
      MessageIds.jobEvent(job.jobId, 'completed'),
    ]);
    expect(await jobRow(job.jobId)).toMatchObject({
      status: 'succeeded',
      progress: { step: 'index', done: 8, total: 8 },
    });
    expect(await stepsOf(job.jobId)).toEqual({
      ingest: { status: 'succeeded', done: 8, total: 8 },
      index: { status: 'succeeded', done: 8, total: 8 },
    });
  });

  it('creates jobs made together in one statement, one job per idempotency key', async () => {
    const key = `key-${uuidv7()}`;
    const input = (tenantId: string, idempotencyKey: string | null) => {
      const id = uuidv7();
      const documentId = uuidv7();
      return {
        id,
        tenantId,
        idempotencyKey,
        traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
        traceId: 'a'.repeat(32),
        documents: [
          {
            id: documentId,
            filename: 'a.txt',
            claimedContentType: null,
            sha256: null,
            sizeBytes: null,
            blobKey: 'k',
          },
        ],
        outbox: [
          {
            tenantId,
            jobId: id,
            subject: topo.commandSubject('ingestDocument'),
            msgId: MessageIds.command('ingestDocument', id, documentId),
            payload: { v: 1, jobId: id, tenantId, documentId },
            headers: {},
          },
        ],
      };
    };
    const inputs = [input(tenantA, key), input(tenantA, key), input(tenantB, key), input(tenantA, null)];
    const results = await Promise.all(inputs.map((i) => jobs.createIngestJob(i)));
    expect(results.map((r) => r.created)).toEqual([true, false, true, true]);
    // The second request got the first one's job, with nothing of its own written.
    expect(results[1]?.job.id).toBe(inputs[0]?.id);
    expect(await prisma.job.count({ where: { id: inputs[1]?.id } })).toBe(0);
    expect(results[1]?.outbox).toEqual([]);
    for (const i of [0, 2, 3]) {
      const id = inputs[i]?.id as string;
      expect(results[i]?.outbox.map((o) => o.msgId)).toEqual(inputs[i]?.outbox.map((o) => o.msgId));
      expect(await stepsOf(id)).toEqual({
        ingest: { status: 'queued', done: 0, total: 1 },
        index: { status: 'queued', done: 0, total: 1 },
      });
      expect(await statusEvents(id)).toEqual(['-→queued']);
      expect(await prisma.document.count({ where: { jobId: id } })).toBe(1);
      expect(results[i]?.job).toEqual(await jobs.getJob(inputs[i]?.tenantId as string, id));
    }
  });

  it('gives every call of one batch its own outcome: claims, completions and job endings across jobs', async () => {
    // Calls made in one turn run as one statement each (see Batcher); each must end as it would alone.
    const [one, two, done] = await Promise.all([newJob(tenantA, 1), newJob(tenantA, 2), newJob(tenantA, 1)]);
    await jobControl.cancelJob(tenantA, done.jobId);
    const [a, b1, b2, stranger, finished, missing] = await Promise.all([
      extractionStep.claimForExtraction(tenantA, one.docIds[0] as string),
      extractionStep.claimForExtraction(tenantA, two.docIds[0] as string),
      extractionStep.claimForExtraction(tenantA, two.docIds[1] as string),
      extractionStep.claimForExtraction(tenantB, one.docIds[0] as string),
      extractionStep.claimForExtraction(tenantA, done.docIds[0] as string),
      extractionStep.claimForExtraction(tenantA, uuidv7()),
    ]);
    expect([a, b1, b2].map((c) => c.claimed)).toEqual([true, true, true]);
    expect([stranger, finished, missing]).toEqual([
      { claimed: false, reason: 'not_found' },
      { claimed: false, reason: 'job_finished' },
      { claimed: false, reason: 'not_found' },
    ]);
    const works = [a, b1, b2].map((c) => (c.claimed ? c.work : undefined)) as DocumentWork[];
    expect(works.map((w) => w.jobId)).toEqual([one.jobId, two.jobId, two.jobId]);
    // One document's pages differ from the others': each document keeps its own.
    const completed = await Promise.all(
      works.map((w, i) =>
        extractionStep.completeExtraction(
          w,
          { detectedType: 'text', pages: [{ pageNumber: 1, text: `page of ${i}` }], lowConfidencePages: [i] },
          indexCommandRow(w),
        ),
      ),
    );
    expect(completed.map((r) => r?.map((o) => o.msgId))).toEqual(
      works.map((w) => [MessageIds.command('indexDocument', w.jobId, w.documentId)]),
    );
    const extracted = await prisma.document.findMany({
      where: { id: { in: works.map((w) => w.documentId) } },
      include: { pages: true },
    });
    for (const [i, w] of works.entries()) {
      const d = extracted.find((e) => e.id === w.documentId);
      expect(d).toMatchObject({ status: 'extracted', pageCount: 1, lowConfidencePages: [i] });
      expect(d?.pages.map((p) => p.text)).toEqual([`page of ${i}`]);
    }
    expect(await stepsOf(two.jobId)).toMatchObject({ ingest: { status: 'succeeded', done: 2, total: 2 } });

    const indexing = await Promise.all(
      works.map((w) => claimed(indexStep.claimForIndexing(tenantA, w.documentId))),
    );
    const results = await Promise.all(
      indexing.map((w, i) => indexStep.completeIndexing(w, chunksOf([`chunk ${i}`]), { id: 'm', dim: 4 })),
    );
    // Job one ends with its document; job two ends once, reported with the first of its two documents.
    expect(results.map((r) => r?.map((o) => o.msgId))).toEqual([
      [MessageIds.jobEvent(one.jobId, 'completed')],
      [MessageIds.jobEvent(two.jobId, 'completed')],
      [],
    ]);
    // One batch, one commit: both jobs it ended reach the after-commit port in one call, with their final events.
    const ending = after.commits.filter((c) => c.finishedJobs.some((j) => j.jobId === one.jobId));
    expect(ending).toHaveLength(1);
    expect(ending[0]?.finishedJobs.map((j) => [j.jobId, j.type, j.status])).toEqual([
      [one.jobId, 'ingest', 'succeeded'],
      [two.jobId, 'ingest', 'succeeded'],
    ]);
    expect(ending[0]?.outbox.map((o) => o.msgId)).toEqual([
      MessageIds.jobEvent(one.jobId, 'completed'),
      MessageIds.jobEvent(two.jobId, 'completed'),
    ]);
    for (const job of [one, two]) {
      expect(await statusEvents(job.jobId)).toEqual(['-→queued', 'queued→running', 'running→succeeded']);
      expect((await jobRow(job.jobId)).status).toBe('succeeded');
    }
    expect(await prisma.chunk.count({ where: { documentId: { in: works.map((w) => w.documentId) } } })).toBe(
      3,
    );
  });

  it('hands each commit’s outbox rows and ended job to the after-commit port, after the commit and before returning', async () => {
    const told: { rows: string[]; visible: number; finished: Committed['finishedJobs'] }[] = [];
    const steps: string[] = [];
    const port: AfterCommit = {
      async committed(what) {
        // Read on another connection: the rows are there, so the port runs after the commit, not inside it.
        const visible = await prisma.outbox.count({
          where: { id: { in: what.outbox.map((r) => BigInt(r.id)) } },
        });
        told.push({ rows: what.outbox.map((r) => r.msgId), visible, finished: what.finishedJobs });
        steps.push('told');
      },
    };
    const own = {
      extraction: new ExtractionRepository(prisma, topo, port),
      indexing: new IndexingRepository(prisma, topo, port),
      control: new JobControlRepository(prisma, topo, port),
    };
    const job = await newJob(tenantA, 2, new JobsRepository(prisma, port));
    steps.push('created');
    const [d1, d2] = job.docIds as [string, string];
    expect(told).toEqual([
      {
        rows: job.docIds.map((d) => MessageIds.command('ingestDocument', job.jobId, d)),
        visible: 2,
        finished: [],
      },
    ]);

    const w1 = await claimed(own.extraction.claimForExtraction(tenantA, d1));
    steps.push('claimed');
    await own.extraction.completeExtraction(w1, { detectedType: 'text', pages: PAGES }, indexCommandRow(w1));
    steps.push('extracted');
    // A redelivered completion writes nothing: nothing to tell.
    expect(
      await own.extraction.completeExtraction(
        w1,
        { detectedType: 'text', pages: PAGES },
        indexCommandRow(w1),
      ),
    ).toBeNull();
    // A failure that does not end the job writes no outbox row.
    expect(
      await own.control.failDocument({ jobId: job.jobId, tenantId: tenantA, documentId: d2 }, corrupt),
    ).toEqual([]);
    steps.push('failed');
    const w1i = await claimed(own.indexing.claimForIndexing(tenantA, d1));
    const final = await own.indexing.completeIndexing(w1i, chunksOf(['a']), { id: 'm', dim: 4 });
    steps.push('indexed');

    expect(steps).toEqual(['told', 'created', 'claimed', 'told', 'extracted', 'failed', 'told', 'indexed']);
    expect(told.slice(1).map((t) => [t.rows, t.visible])).toEqual([
      [[MessageIds.command('indexDocument', job.jobId, d1)], 1],
      [[MessageIds.jobEvent(job.jobId, 'completed')], 1],
    ]);
    expect(final?.map((r) => r.msgId)).toEqual(told[2]?.rows);
    const done = await jobRow(job.jobId);
    expect(told[2]?.finished).toEqual([
      {
        jobId: job.jobId,
        type: 'ingest',
        status: 'completed_with_failures',
        createdAt: done.createdAt,
        finishedAt: done.finishedAt,
      },
    ]);
  });

  it('tells the port of a cancelled job once, with the job as it ended', async () => {
    const job = await newJob(tenantA, 2);
    await claimed(extractionStep.claimForExtraction(tenantA, job.docIds[0] as string));
    const told = after.commits.length;

    const result = await jobControl.cancelJob(tenantA, job.jobId);
    expect(await jobControl.cancelJob(tenantA, job.jobId)).toEqual({
      outcome: 'terminal',
      status: 'cancelled',
    });

    const done = await jobRow(job.jobId);
    expect(after.commits.slice(told)).toEqual([
      {
        outbox: result.outcome === 'cancelled' ? result.outbox : [],
        finishedJobs: [
          {
            jobId: job.jobId,
            type: 'ingest',
            status: 'cancelled',
            createdAt: done.createdAt,
            finishedAt: done.finishedAt,
          },
        ],
      },
    ]);
    expect(after.commits[told]?.outbox.map((r) => r.msgId)).toEqual([
      MessageIds.jobEvent(job.jobId, 'cancelled'),
    ]);
  });

  it('finishes exactly once when successes and failures race for the last document', async () => {
    const job = await newJob(tenantA, 8);
    const works = await Promise.all(job.docIds.map((d) => toIndexing(tenantA, d)));

    const results = await Promise.all(
      works.map((w, i) =>
        i % 2 === 0
          ? indexStep.completeIndexing(w, chunksOf([`text ${i}`]), { id: 'm', dim: 4 })
          : jobControl.failDocument(w, { code: 'parser_timeout', message: `doc ${i} timed out` }),
      ),
    );

    expect(results.filter((r) => r !== null && r.length > 0)).toHaveLength(1);
    const done = await jobRow(job.jobId);
    expect(done).toMatchObject({ status: 'completed_with_failures', error: { code: 'parser_timeout' } });
    expect(await statusEvents(job.jobId)).toEqual([
      '-→queued',
      'queued→running',
      'running→completed_with_failures',
    ]);
    const events = await jobEventOutbox(job.jobId);
    expect(events).toHaveLength(1);
    expect(JobEvent.parse(events[0]?.payload).documents).toEqual({ total: 8, succeeded: 4, failed: 4 });
  });

  it('lets a redelivered claim and the first delivery’s completion meet on one document without a deadlock', async () => {
    const job = await newJob(tenantA, 1);
    const d1 = job.docIds[0] as string;
    const work = await claimed(extractionStep.claimForExtraction(tenantA, d1));
    // Holding the job row makes the order deterministic: the completion queues for the job first,
    // then the redelivered claim (its ack_wait ran out) arrives for the same document.
    const blocker = new Client({ connectionString: db!.url });
    const observer = new Client({ connectionString: db!.url });
    await Promise.all([blocker.connect(), observer.connect()]);
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT id FROM jobs WHERE id = $1 FOR UPDATE', [job.jobId]);
      const completing = extractionStep.completeExtraction(
        work,
        { detectedType: 'text', pages: PAGES },
        indexCommandRow(work),
      );
      await untilLockWaiters(observer, 1);
      const reclaiming = extractionStep.claimForExtraction(tenantA, d1);
      await untilLockWaiters(observer, 2);
      await blocker.query('COMMIT');

      const [rows, claim] = await Promise.all([completing, reclaiming]);
      expect(rows).toHaveLength(1);
      expect(claim).toEqual({ claimed: false, reason: 'already_done' });
    } finally {
      await Promise.all([blocker.end(), observer.end()]);
    }
  });

  it('isolates tenants: another tenant’s claims, pages and failures find nothing', async () => {
    const job = await newJob(tenantA, 2);
    const [d1, d2] = job.docIds as [string, string];
    await toIndexing(tenantA, d2);
    const before = await snapshot(job);

    expect(await extractionStep.claimForExtraction(tenantB, d1)).toEqual({
      claimed: false,
      reason: 'not_found',
    });
    expect(await indexStep.claimForIndexing(tenantB, d2)).toEqual({ claimed: false, reason: 'not_found' });
    expect(await extractionStep.claimForExtraction(tenantA, uuidv7())).toEqual({
      claimed: false,
      reason: 'not_found',
    });
    expect(await indexStep.loadPages(tenantB, d2)).toEqual([]);
    expect(
      await jobControl.failDocument({ jobId: job.jobId, tenantId: tenantB, documentId: d1 }, corrupt),
    ).toEqual([]);

    expect(await snapshot(job)).toEqual(before);
  });

  it('reports progress on a running job only', async () => {
    const job = await newJob(tenantA, 1);
    await jobControl.reportProgress(job.jobId, { step: 'ingest', done: 3, total: 0, message: 'page 3' });
    expect((await jobRow(job.jobId)).progress).toEqual({ step: 'ingest', done: 0, total: 1 });

    await extractionStep.claimForExtraction(tenantA, job.docIds[0] as string);
    await jobControl.reportProgress(job.jobId, { step: 'ingest', done: 3, total: 0, message: 'page 3' });
    const row = await jobRow(job.jobId);
    expect(row.progress).toEqual({ step: 'ingest', done: 3, total: 0, message: 'page 3' });
    expect(row.heartbeatAt).not.toBeNull();
  });
});
