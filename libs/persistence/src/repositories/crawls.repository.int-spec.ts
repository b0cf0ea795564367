import { createHash, randomBytes } from 'node:crypto';
import { MessageIds, topology, uuidFromName, uuidv7, type Lane } from '@quarry/contracts';
import { findMigrationsDir, runMigrations } from '@quarry/migrations';
import { createEmptyDatabase, type TestDatabase } from '@quarry/test-kit';
import { createPrismaClient, type PrismaClient } from '../prisma';
import { RecordingAfterCommit } from './__fixtures__/recording-after-commit';
import { CrawlsRepository, type CrawlDelivery } from './crawls.repository';
import { JobsRepository, TenantsRepository } from './jobs.repository';
import { ExtractionRepository } from './extraction.repository';
import { IndexingRepository } from './indexing.repository';
import type { DocumentWork, NewDocument, OutboxInsert } from './types';

// Crawl jobs, attachments and URL documents on a real, migrated PostgreSQL: no mocks.

const topo = topology('qt_crawls');

let db: TestDatabase | undefined;
let prisma: PrismaClient;
let crawls: CrawlsRepository;
let jobs: JobsRepository;
let extractionStep: ExtractionRepository;
let indexStep: IndexingRepository;
/** What every commit of the repositories above handed the after-commit port. */
const after = new RecordingAfterCommit();
let tenant: string;
let other: string;

beforeAll(async () => {
  db = await createEmptyDatabase('crawls', { create: false });
  await runMigrations({ databaseUrl: db.url, migrationsDir: findMigrationsDir(__dirname) });
  prisma = createPrismaClient({ databaseUrl: db.url, poolMax: 8 });
  crawls = new CrawlsRepository(prisma, topo, after);
  jobs = new JobsRepository(prisma, after);
  extractionStep = new ExtractionRepository(prisma, topo, after);
  indexStep = new IndexingRepository(prisma, topo, after);
  const tenants = new TenantsRepository(prisma);
  tenant = (await tenants.ensureTenantWithKey('crawler-a', 'key-crawler-a-0123')).tenantId;
  other = (await tenants.ensureTenantWithKey('crawler-b', 'key-crawler-b-0123')).tenantId;
});

afterAll(async () => {
  await prisma?.$disconnect();
  await db?.drop();
});

function page(url: string, failed = false): NewDocument {
  const id = uuidv7();
  return {
    id,
    filename: `${url.split('/').pop() ?? 'page'}.md`,
    claimedContentType: 'text/markdown',
    sha256: failed ? null : createHash('sha256').update(url).digest('hex'),
    sizeBytes: failed ? null : 42,
    blobKey: `${tenant}/${id}`,
    source: 'crawl',
    sourceUrl: url,
    metadata: { crawl: { source: 'firecrawl' } },
    ...(failed ? { failed: { code: 'url_http_error', message: 'HTTP 404' } } : {}),
  };
}

function command(c: { jobId: string; documentId: string; lane: Lane; traceparent: string }): OutboxInsert {
  return {
    tenantId: tenant,
    jobId: c.jobId,
    subject: topo.commandSubject('ingestDocument', c.lane),
    msgId: MessageIds.command('ingestDocument', c.jobId, c.documentId),
    payload: { v: 1, jobId: c.jobId, tenantId: tenant, documentId: c.documentId, lane: c.lane },
    headers: { traceparent: c.traceparent },
  };
}

function delivery(crawlId: string, over: Partial<CrawlDelivery> = {}): CrawlDelivery {
  const traceparent = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
  return {
    tenantId: tenant,
    source: 'firecrawl',
    deliveryId: randomBytes(8).toString('hex'),
    eventType: 'crawl.page',
    crawlRef: `firecrawl:${crawlId}`,
    newJob: { id: uuidv7(), lane: 'bulk', traceparent, traceId: null },
    documents: [],
    command,
    ...over,
  };
}

async function claimed(p: ReturnType<ExtractionRepository['claimForExtraction']>): Promise<DocumentWork> {
  const c = await p;
  if (!c.claimed) throw new Error(`expected a claim, got ${c.reason}`);
  return c.work;
}

/** Runs one document through both steps, as the workers would. */
async function index(documentId: string, tenantId = tenant) {
  const work = await claimed(extractionStep.claimForExtraction(tenantId, documentId));
  await extractionStep.completeExtraction(
    work,
    { detectedType: 'markdown', pages: [{ pageNumber: 1, text: 'x' }] },
    {
      tenantId,
      jobId: work.jobId,
      subject: topo.commandSubject('indexDocument'),
      msgId: MessageIds.command('indexDocument', work.jobId, documentId),
      payload: { documentId },
      headers: {},
    },
  );
  const indexing = await claimed(indexStep.claimForIndexing(tenantId, documentId));
  return indexStep.completeIndexing(indexing, [], { id: 'm', dim: 4 });
}

describe('CrawlsRepository.receive', () => {
  it('puts every delivery of a crawl into one job that finishes only after the crawl completes', async () => {
    const crawlId = randomBytes(6).toString('hex');
    const first = await crawls.receive(delivery(crawlId, { documents: [page('https://s.example/a')] }));
    if (first.outcome !== 'accepted') throw new Error(first.outcome);
    expect(first.created).toBe(true);
    expect(first.outbox.map((r) => r.subject)).toEqual([topo.commandSubject('ingestDocument', 'bulk')]);

    // Its one page indexed: the job still waits, since the crawler may send more.
    expect(await index(first.added[0]!)).toEqual([]);
    expect((await jobs.getJob(tenant, first.jobId))?.status).toBe('running');

    const second = await crawls.receive(
      delivery(crawlId, { documents: [page('https://s.example/b'), page('https://s.example/a')] }),
    );
    if (second.outcome !== 'accepted') throw new Error(second.outcome);
    expect(second.jobId).toBe(first.jobId);
    expect(second.created).toBe(false);
    // The page URL the job already has is not added twice.
    expect(second.added).toHaveLength(1);
    expect(second.skipped).toBe(1);

    const completed = await crawls.receive(delivery(crawlId, { eventType: 'crawl.completed', close: {} }));
    if (completed.outcome !== 'accepted') throw new Error(completed.outcome);
    // Page b is still open: completing the crawl does not finish the job yet.
    expect(completed.outbox).toEqual([]);
    const finished = await index(second.added[0]!);
    expect(finished?.map((r) => r.subject)).toEqual([topo.eventSubject('completed')]);
    const job = await jobs.getJob(tenant, first.jobId);
    expect(job?.status).toBe('succeeded');
    expect(job?.acceptingDocuments).toBe(false);
    expect(job?.documents.map((d) => d.sourceUrl)).toEqual(['https://s.example/a', 'https://s.example/b']);
  });

  it('does nothing for a delivery id it has seen, and keeps tenants apart', async () => {
    const crawlId = randomBytes(6).toString('hex');
    const d = delivery(crawlId, { documents: [page('https://s.example/x')] });
    const first = await crawls.receive(d);
    if (first.outcome !== 'accepted') throw new Error(first.outcome);
    const again = await crawls.receive({ ...d, documents: [page('https://s.example/y')] });
    expect(again).toEqual({ outcome: 'duplicate', jobId: first.jobId });
    // The same crawl id and delivery id under another tenant is another crawl.
    const elsewhere = await crawls.receive({
      ...d,
      tenantId: other,
      newJob: { ...d.newJob, id: uuidv7() },
      documents: [page('https://s.example/x')],
    });
    if (elsewhere.outcome !== 'accepted') throw new Error(elsewhere.outcome);
    expect(elsewhere.jobId).not.toBe(first.jobId);
    expect((await jobs.getJob(tenant, first.jobId))?.documents).toHaveLength(1);
  });

  it('creates one job when the first deliveries of a crawl race', async () => {
    const crawlId = randomBytes(6).toString('hex');
    const results = await Promise.all(
      ['p1', 'p2', 'p3', 'p4'].map((p) =>
        crawls.receive(delivery(crawlId, { documents: [page(`https://s.example/${p}`)] })),
      ),
    );
    const ids = new Set(results.map((r) => (r.outcome === 'accepted' ? r.jobId : r.outcome)));
    expect(ids.size).toBe(1);
    const [jobId] = [...ids];
    expect((await jobs.getJob(tenant, jobId!))?.documents).toHaveLength(4);
    // The loser of the race ran again; what its rolled-back attempt wrote was never told: each command once.
    const told = after.outbox.filter((r) => r.jobId === jobId).map((r) => r.msgId);
    expect(told).toHaveLength(4);
    expect(new Set(told).size).toBe(4);
  });

  it('fails a crawl that ends without a page with the crawler error; a failed page fails on its own', async () => {
    const empty = randomBytes(6).toString('hex');
    await crawls.receive(delivery(empty, { eventType: 'crawl.started' }));
    const failed = await crawls.receive(
      delivery(empty, {
        eventType: 'crawl.failed',
        close: { error: { code: 'crawl_failed', message: 'the crawler reported: quota exceeded' } },
      }),
    );
    if (failed.outcome !== 'accepted') throw new Error(failed.outcome);
    expect(failed.outbox.map((r) => r.subject)).toEqual([topo.eventSubject('failed')]);
    expect(after.finishedJobs.filter((j) => j.jobId === failed.jobId).map((j) => j.status)).toEqual([
      'failed',
    ]);
    const job = await jobs.getJob(tenant, failed.jobId);
    expect(job?.status).toBe('failed');
    expect(job?.error).toEqual({ code: 'crawl_failed', message: 'the crawler reported: quota exceeded' });

    const mixed = randomBytes(6).toString('hex');
    const pages = await crawls.receive(
      delivery(mixed, { documents: [page('https://s.example/ok'), page('https://s.example/404', true)] }),
    );
    if (pages.outcome !== 'accepted') throw new Error(pages.outcome);
    // Only the page with content gets a command.
    expect(pages.outbox).toHaveLength(1);
    await crawls.receive(delivery(mixed, { eventType: 'crawl.completed', close: {} }));
    const ok = (await jobs.getJob(tenant, pages.jobId))?.documents.find((d) => d.sourceUrl?.endsWith('/ok'));
    await index(ok!.id);
    const done = await jobs.getJob(tenant, pages.jobId);
    expect(done?.status).toBe('completed_with_failures');
    expect(done?.documents.find((d) => d.sourceUrl?.endsWith('/404'))?.error?.code).toBe('url_http_error');

    // Retried, the page the crawler could not deliver is fetched by its URL, into a blob key of its own.
    const retry = await jobs.createRetryJob(pages.jobId, {
      id: uuidv7(),
      tenantId: tenant,
      idempotencyKey: null,
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      traceId: null,
      newDocumentId: () => uuidv7(),
      command: (c) => command({ ...c, traceparent: '' }),
    });
    if (retry.kind !== 'created') throw new Error(retry.kind);
    const [copy] = retry.job.documents;
    expect(copy).toMatchObject({
      source: 'url',
      sourceUrl: 'https://s.example/404',
      sha256: null,
      status: 'queued',
    });
    const row = await prisma.document.findUniqueOrThrow({ where: { id: copy!.id } });
    expect(row.blobKey).toBe(`${tenant}/${copy!.id}`);
  });

  it('adds nothing to a crawl whose job already ended', async () => {
    const crawlId = randomBytes(6).toString('hex');
    const first = await crawls.receive(delivery(crawlId, { documents: [page('https://s.example/only')] }));
    if (first.outcome !== 'accepted') throw new Error(first.outcome);
    await crawls.receive(delivery(crawlId, { eventType: 'crawl.completed', close: {} }));
    await index(first.added[0]!);
    const late = await crawls.receive(delivery(crawlId, { documents: [page('https://s.example/late')] }));
    expect(late).toEqual({ outcome: 'job_finished', jobId: first.jobId, status: 'succeeded' });
  });

  it('closes crawls whose crawler fell silent, so no job waits forever', async () => {
    const crawlId = randomBytes(6).toString('hex');
    const first = await crawls.receive(delivery(crawlId, { documents: [page('https://s.example/lonely')] }));
    if (first.outcome !== 'accepted') throw new Error(first.outcome);
    await index(first.added[0]!);
    await prisma.$executeRaw`
      UPDATE jobs SET updated_at = now() - interval '3 hours', heartbeat_at = now() - interval '3 hours'
      WHERE id = ${first.jobId}::uuid`;
    const closed = await crawls.closeIdleCrawls(2 * 3600 * 1000, 100);
    expect(closed.closed).toContain(first.jobId);
    expect(closed.outbox.filter((r) => r.jobId === first.jobId).map((r) => r.subject)).toEqual([
      topo.eventSubject('completed'),
    ]);
    // The closing commit handed its event and the job it ended to the after-commit port.
    const told = after.commits.filter((c) => c.finishedJobs.some((j) => j.jobId === first.jobId));
    expect(told.map((c) => [c.finishedJobs.map((j) => j.status), c.outbox.map((r) => r.jobId)])).toEqual([
      [['succeeded'], [first.jobId]],
    ]);
  });
});

describe('attachments found while extracting', () => {
  it('join the job in the extraction transaction, once, and the job waits for them', async () => {
    const jobId = uuidv7();
    const parentId = uuidv7();
    await jobs.createIngestJob({
      id: jobId,
      tenantId: tenant,
      idempotencyKey: null,
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      traceId: null,
      documents: [
        {
          id: parentId,
          filename: 'mail.eml',
          claimedContentType: 'message/rfc822',
          sha256: 'a'.repeat(64),
          sizeBytes: 10,
          blobKey: `${tenant}/${parentId}`,
        },
      ],
      outbox: [],
    });
    const work = await claimed(extractionStep.claimForExtraction(tenant, parentId));
    const childIds = [0, 1].map((i) => uuidFromName(`${parentId}:attachment:${i}`));
    const children = childIds.map((id, i) => ({
      id,
      filename: i === 0 ? 'report.pdf' : 'deep.eml',
      claimedContentType: null,
      sha256: 'b'.repeat(64),
      sizeBytes: 5,
      blobKey: `${tenant}/${id}`,
      ...(i === 1 ? { failed: { code: 'too_deeply_nested' as const, message: 'too deep' } } : {}),
    }));
    const next = (documentId: string, name: 'indexDocument' | 'ingestDocument'): OutboxInsert => ({
      tenantId: tenant,
      jobId,
      subject: topo.commandSubject(name),
      msgId: MessageIds.command(name, jobId, documentId),
      payload: { documentId },
      headers: {},
    });
    const result = {
      detectedType: 'eml' as const,
      pages: [{ pageNumber: 1, text: 'Subject: hi' }],
      children,
    };
    const rows = await extractionStep.completeExtraction(work, result, next(parentId, 'indexDocument'), [
      next(childIds[0]!, 'ingestDocument'),
    ]);
    expect(rows?.map((r) => r.msgId)).toEqual([
      MessageIds.command('indexDocument', jobId, parentId),
      MessageIds.command('ingestDocument', jobId, childIds[0]!),
    ]);
    const job = await jobs.getJob(tenant, jobId);
    const child = job?.documents.find((d) => d.id === childIds[0]);
    expect(child).toMatchObject({
      source: 'attachment',
      parentDocumentId: parentId,
      depth: 1,
      status: 'queued',
    });
    expect(job?.documents.find((d) => d.id === childIds[1])?.error?.code).toBe('too_deeply_nested');
    const steps = await prisma.jobStep.findMany({ where: { jobId }, orderBy: { name: 'asc' } });
    expect(steps.map((s) => [s.name, s.done, s.total])).toEqual([
      ['index', 0, 2],
      ['ingest', 1, 2],
    ]);

    // The parent indexed first: the job waits for its attachment, then ends with the refused one counted.
    const indexing = await claimed(indexStep.claimForIndexing(tenant, parentId));
    expect(await indexStep.completeIndexing(indexing, [], { id: 'm', dim: 4 })).toEqual([]);
    await index(childIds[0]!);
    expect((await jobs.getJob(tenant, jobId))?.status).toBe('completed_with_failures');
  });
});
