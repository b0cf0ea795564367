import { findMigrationsDir, runMigrations } from '@quarry/migrations';
import { createEmptyDatabase, type TestDatabase } from '@quarry/test-kit';
import { createPrismaClient, Prisma, type PrismaClient } from './index';

/** A deterministic unit vector in 512 dimensions, pointing mostly along axis `axis`. */
function vector512(axis: number): string {
  const v = Array.from({ length: 512 }, (_, i) => (i === axis ? 1 : 0.01));
  return `[${v.join(',')}]`;
}

describe('createPrismaClient against the migrated schema', () => {
  let db: TestDatabase | undefined;
  let prisma: PrismaClient;

  beforeAll(async () => {
    // The generated client loads its query compiler with a native import(), which Jest's module
    // sandbox only allows under this flag; without it every query fails with a cryptic message.
    if (
      !`${process.env.NODE_OPTIONS ?? ''} ${process.execArgv.join(' ')}`.includes('--experimental-vm-modules')
    ) {
      throw new Error(
        'run Jest with NODE_OPTIONS=--experimental-vm-modules: the Prisma client needs it under Jest',
      );
    }
    db = await createEmptyDatabase('prisma', { create: false });
    await runMigrations({ databaseUrl: db.url, migrationsDir: findMigrationsDir(__dirname) });
    prisma = createPrismaClient({ databaseUrl: db.url, poolMax: 2 });
  });
  afterAll(async () => {
    await prisma?.$disconnect();
    await db?.drop();
  });

  it('writes and reads a tenant and a job with database defaults', async () => {
    const tenant = await prisma.tenant.create({ data: { name: 'acme' } });
    const job = await prisma.job.create({
      data: {
        tenantId: tenant.id,
        type: 'ingest',
        idempotencyKey: 'k-1',
        progress: { step: 'ingest', done: 0, total: 2 },
      },
    });
    expect(job).toMatchObject({ status: 'queued', attempts: 0, finishedAt: null });
    expect(job.id).toMatch(/^[0-9a-f-]{36}$/);

    const found = await prisma.job.findUniqueOrThrow({
      where: { tenantId_idempotencyKey: { tenantId: tenant.id, idempotencyKey: 'k-1' } },
      include: { tenant: true },
    });
    expect(found.tenant.name).toBe('acme');
    expect(found.progress).toEqual({ step: 'ingest', done: 0, total: 2 });

    await expect(
      prisma.job.create({ data: { tenantId: tenant.id, type: 'ingest', idempotencyKey: 'k-1' } }),
    ).rejects.toMatchObject({ code: 'P2002' });
  });

  it('stores a 512-d embedding and finds it through the partial HNSW index', async () => {
    const tenant = await prisma.tenant.create({ data: { name: 'vectors' } });
    const job = await prisma.job.create({ data: { tenantId: tenant.id, type: 'ingest' } });
    const document = await prisma.document.create({
      data: {
        tenantId: tenant.id,
        jobId: job.id,
        filename: 'a.txt',
        sha256: 'a'.repeat(64),
        sizeBytes: 12n,
        blobKey: 'blobs/a',
      },
    });
    for (const ordinal of [0, 1, 2]) {
      await prisma.$executeRaw`
        INSERT INTO chunks (tenant_id, document_id, page_number, ordinal, text, token_count, char_start, char_end,
                            embedding, embedding_model, embedding_dim)
        VALUES (${tenant.id}::uuid, ${document.id}::uuid, 1, ${ordinal}, ${`chunk ${ordinal}`}, 2, 0, 7,
                ${vector512(ordinal)}::vector, 'use-lite', 512)`;
    }

    const query = vector512(1);
    const nearest = await prisma.$queryRaw<{ ordinal: number; distance: number }[]>`
      SELECT ordinal, embedding::vector(512) <=> ${query}::vector(512) AS distance
        FROM chunks
       WHERE embedding_dim = 512 AND tenant_id = ${tenant.id}::uuid
       ORDER BY embedding::vector(512) <=> ${query}::vector(512)
       LIMIT 2`;
    expect(nearest.map((r) => r.ordinal)).toEqual([1, expect.any(Number)]);
    expect(nearest[0]!.distance).toBeLessThan(0.01);

    // Three rows would never tempt the planner; forbidding sequential scans shows the index *can* serve
    // the query shape the retrieval code uses.
    // The dimension may also be a bind parameter: the adapter's unnamed statements get custom plans,
    // which can prove the partial index's predicate from the bound value.
    const [literalPlan, boundPlan] = await prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SET LOCAL enable_seqscan = off`;
      return [
        await tx.$queryRaw<{ 'QUERY PLAN': string }[]>(Prisma.sql`
          EXPLAIN SELECT id FROM chunks WHERE embedding_dim = 512
           ORDER BY embedding::vector(512) <=> ${query}::vector(512) LIMIT 5`),
        await tx.$queryRaw<{ 'QUERY PLAN': string }[]>(Prisma.sql`
          EXPLAIN SELECT id FROM chunks WHERE embedding_dim = ${512}
           ORDER BY embedding::vector(512) <=> ${query}::vector(512) LIMIT 5`),
      ];
    });
    for (const plan of [literalPlan, boundPlan]) {
      expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toContain('chunks_embedding_512_hnsw_idx');
    }
  });

  it('keeps a recurring raw statement prepared on its connection instead of planning it each time', async () => {
    const names = await prisma.$transaction(async (tx) => {
      for (let i = 0; i < 3; i++)
        await tx.$queryRaw`SELECT count(*)::int AS n FROM jobs WHERE attempts > ${i}`;
      return tx.$queryRaw<{ name: string; calls: number }[]>`
        SELECT name, (generic_plans + custom_plans)::int AS calls FROM pg_prepared_statements
         WHERE statement LIKE '%FROM jobs WHERE attempts >%'`;
    });
    // Named on its second execution: the second and third ran the prepared statement.
    expect(names).toHaveLength(1);
    expect(names[0]?.name).toMatch(/^quarry_[0-9a-f]{24}$/);
    expect(names[0]?.calls).toBe(2);
  });

  it('keeps job_events append-only: UPDATE is rejected, DELETE is allowed', async () => {
    const tenant = await prisma.tenant.create({ data: { name: 'events' } });
    const job = await prisma.job.create({ data: { tenantId: tenant.id, type: 'analyze' } });
    const event = await prisma.jobEvent.create({
      data: { jobId: job.id, tenantId: tenant.id, kind: 'status', fromStatus: 'queued', toStatus: 'running' },
    });
    expect(typeof event.id).toBe('bigint');

    await expect(
      prisma.jobEvent.update({ where: { id: event.id }, data: { kind: 'edited' } }),
    ).rejects.toThrow(/append-only/);
    await expect(prisma.jobEvent.delete({ where: { id: event.id } })).resolves.toMatchObject({
      kind: 'status',
    });
  });

  it('cascades a job deletion to its steps, documents, pages, chunks and events', async () => {
    const tenant = await prisma.tenant.create({ data: { name: 'cascade' } });
    const job = await prisma.job.create({
      data: {
        tenantId: tenant.id,
        type: 'ingest',
        steps: { create: { tenantId: tenant.id, name: 'ingest' } },
        events: { create: { tenantId: tenant.id, kind: 'created' } },
        documents: {
          create: {
            tenantId: tenant.id,
            filename: 'b.pdf',
            sha256: 'b'.repeat(64),
            sizeBytes: 1n,
            blobKey: 'blobs/b',
            pages: { create: { tenantId: tenant.id, pageNumber: 1, text: 'hello', charCount: 5 } },
          },
        },
      },
    });
    await prisma.job.delete({ where: { id: job.id } });
    const counts = await Promise.all([
      prisma.jobStep.count({ where: { jobId: job.id } }),
      prisma.jobEvent.count({ where: { jobId: job.id } }),
      prisma.document.count({ where: { jobId: job.id } }),
      prisma.page.count({ where: { tenantId: tenant.id } }),
    ]);
    expect(counts).toEqual([0, 0, 0, 0]);
  });
});
