import { topology, uuidv7, type AnalysisRequest } from '@quarry/contracts';
import { findMigrationsDir, runMigrations } from '@quarry/migrations';
import { createEmptyDatabase, type TestDatabase } from '@quarry/test-kit';
import { createPrismaClient, type PrismaClient } from '../prisma';
import { RecordingAfterCommit } from './__fixtures__/recording-after-commit';
import { AnalysesRepository } from './analyses.repository';
import { JobsRepository, TenantsRepository } from './jobs.repository';

// An analysis job's life in the database: created with its command in the outbox, claimed (again after a
// redelivery), its finished items kept, ended once with its result or error and its event.

const topo = topology('qt_analyses');
let db: TestDatabase | undefined;
let prisma: PrismaClient;
let after: RecordingAfterCommit;
let analyses: AnalysesRepository;
let tenantId: string;

const REQUEST: AnalysisRequest = {
  type: 'report',
  question: 'which documents mention payment?',
  maxDocuments: 50,
};

async function newJob(idempotencyKey: string | null = null) {
  return analyses.createAnalysisJob({
    id: uuidv7(),
    tenantId,
    input: REQUEST,
    idempotencyKey,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    traceId: '0af7651916cd43dd8448eb211c80319c',
  });
}

beforeAll(async () => {
  db = await createEmptyDatabase('analyses', { create: false });
  await runMigrations({ databaseUrl: db.url, migrationsDir: findMigrationsDir(__dirname) });
  prisma = createPrismaClient({ databaseUrl: db.url, poolMax: 4 });
  after = new RecordingAfterCommit();
  analyses = new AnalysesRepository(prisma, topo, after);
  tenantId = (await new TenantsRepository(prisma).ensureTenantWithKey('analyses', 'key-analyses-0123'))
    .tenantId;
});

afterAll(async () => {
  await prisma?.$disconnect();
  await db?.drop();
});

describe('AnalysesRepository', () => {
  it('creates a queued analyze job with its request and hands its command to the port after the commit', async () => {
    const { job, created } = await newJob();
    expect(created).toBe(true);
    expect(job).toMatchObject({ type: 'analyze', status: 'queued', input: REQUEST, result: null });
    const rows = after.outbox.filter((r) => r.jobId === job.id);
    expect(rows).toEqual([
      expect.objectContaining({
        command: 'analyzeJob',
        subject: topo.commandSubject('analyzeJob'),
        msgId: `${job.id}:analyzeJob:${job.id}:0`,
        payload: expect.objectContaining({ v: 1, jobId: job.id, tenantId }) as unknown,
      }),
    ]);
  });

  it('answers a repeated Idempotency-Key with the first job', async () => {
    const first = await newJob('same-key');
    const second = await newJob('same-key');
    expect(second).toEqual({ job: expect.objectContaining({ id: first.job.id }) as unknown, created: false });
  });

  it('claims a job again after a redelivery, keeps each item once and ends the job once', async () => {
    const { job } = await newJob();
    const first = await analyses.claimAnalysis(tenantId, job.id);
    expect(first).toMatchObject({ claimed: true, input: REQUEST });
    expect(await analyses.claimAnalysis(tenantId, job.id)).toMatchObject({ claimed: true });

    await analyses.saveItem(job.id, 'doc-a', { score: 0.9 }, { step: 'scoring', done: 1, total: 2 });
    await analyses.saveItem(job.id, 'doc-a', { score: 0.1 }, { step: 'scoring', done: 1, total: 2 });
    expect(await analyses.items(job.id)).toEqual(new Map([['doc-a', { score: 0.9 }]]));
    const running = await new JobsRepository(prisma, after).getJob(tenantId, job.id);
    expect(running).toMatchObject({ status: 'running', progress: { step: 'scoring', done: 1, total: 2 } });

    const result = {
      type: 'report' as const,
      method: 'embedding' as const,
      question: 'q',
      documents: [],
      report: 'r',
    };
    expect(await analyses.finishAnalysis(tenantId, job.id, { result })).toBe(true);
    expect(
      await analyses.finishAnalysis(tenantId, job.id, { error: { code: 'internal', message: 'late' } }),
    ).toBe(false);
    const ended = await new JobsRepository(prisma, after).getJob(tenantId, job.id);
    expect(ended).toMatchObject({ status: 'succeeded', result, error: null });
    expect(after.finishedJobs.filter((f) => f.jobId === job.id)).toEqual([
      expect.objectContaining({ type: 'analyze', status: 'succeeded' }),
    ]);
    const events = after.outbox.filter(
      (r) => r.jobId === job.id && r.subject === topo.eventSubject('completed'),
    );
    expect(events).toHaveLength(1);
    // A finished job is not claimed again, and no item is kept for it any more.
    expect(await analyses.claimAnalysis(tenantId, job.id)).toEqual({
      claimed: false,
      reason: 'job_inactive',
    });
    await analyses.saveItem(job.id, 'doc-b', { score: 0.5 }, { step: 'scoring', done: 2, total: 2 });
    expect((await analyses.items(job.id)).has('doc-b')).toBe(false);
  });

  it('fails a job with the error it is given, and finds nothing of another tenant', async () => {
    const { job } = await newJob();
    const other = (
      await new TenantsRepository(prisma).ensureTenantWithKey('analyses-2', 'key-analyses-2-0123')
    ).tenantId;
    expect(await analyses.claimAnalysis(other, job.id)).toEqual({ claimed: false, reason: 'not_found' });
    expect(await analyses.finishAnalysis(other, job.id, { error: { code: 'internal', message: 'x' } })).toBe(
      false,
    );
    await analyses.claimAnalysis(tenantId, job.id);
    expect(
      await analyses.finishAnalysis(tenantId, job.id, {
        error: { code: 'no_documents', message: 'nothing' },
      }),
    ).toBe(true);
    expect(await new JobsRepository(prisma, after).getJob(tenantId, job.id)).toMatchObject({
      status: 'failed',
      error: { code: 'no_documents', message: 'nothing' },
      result: null,
    });
  });
});
