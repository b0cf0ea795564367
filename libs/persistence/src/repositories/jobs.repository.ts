import { createHash } from 'node:crypto';
import type { DetectedType, DocumentStatus, ErrorInfo, JobStatus } from '@quarry/contracts';
import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { appendJobEvent, insertOutbox } from './sql';
import type { DocumentView, JobView, NewIngestJob, OutboxRow } from './types';

type DocRecord = {
  id: string;
  jobId: string;
  filename: string;
  status: DocumentStatus;
  error: unknown;
  sha256: string;
  sizeBytes: bigint;
  detectedType: string | null;
  pageCount: number | null;
  chunkCount: number | null;
  createdAt: Date;
};

function toDocumentView(d: DocRecord): DocumentView {
  return {
    id: d.id,
    jobId: d.jobId,
    filename: d.filename,
    status: d.status,
    error: (d.error as ErrorInfo | null) ?? null,
    sha256: d.sha256,
    sizeBytes: Number(d.sizeBytes),
    detectedType: (d.detectedType as DetectedType | null) ?? null,
    pageCount: d.pageCount,
    chunkCount: d.chunkCount,
    createdAt: d.createdAt,
  };
}

const jobInclude = { documents: { orderBy: [{ createdAt: 'asc' as const }, { id: 'asc' as const }] } };
type JobRecord = Prisma.JobGetPayload<{ include: typeof jobInclude }>;

function toJobView(j: JobRecord): JobView {
  return {
    id: j.id,
    tenantId: j.tenantId,
    type: j.type,
    status: j.status,
    progress: j.progress as JobView['progress'],
    attempts: j.attempts,
    error: (j.error as ErrorInfo | null) ?? null,
    traceId: j.traceId,
    idempotencyKey: j.idempotencyKey,
    createdAt: j.createdAt,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
    documents: j.documents.map(toDocumentView),
  };
}

export interface JobListCursor {
  createdAt: Date;
  id: string;
}

/** The gateway's reads and writes of jobs. Every query is scoped by tenant. */
export class JobsRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Writes the job, its steps, its documents and the outbox rows for the first step in one
   * transaction. With an idempotency key already used by this tenant, returns the earlier job.
   */
  async createIngestJob(
    input: NewIngestJob,
  ): Promise<{ job: JobView; created: boolean; outbox: OutboxRow[] }> {
    try {
      return await this.prisma.$transaction(async (tx) => {
        const n = input.documents.length;
        const job = await tx.job.create({
          data: {
            id: input.id,
            tenantId: input.tenantId,
            type: 'ingest',
            status: 'queued',
            progress: { step: 'ingest', done: 0, total: n },
            traceparent: input.traceparent,
            traceId: input.traceId,
            idempotencyKey: input.idempotencyKey,
            steps: {
              create: [
                { tenantId: input.tenantId, name: 'ingest', total: n },
                { tenantId: input.tenantId, name: 'index', total: n },
              ],
            },
            documents: {
              create: input.documents.map((d) => ({
                id: d.id,
                tenantId: input.tenantId,
                filename: d.filename,
                claimedContentType: d.claimedContentType,
                sha256: d.sha256,
                sizeBytes: BigInt(d.sizeBytes),
                blobKey: d.blobKey,
              })),
            },
          },
          include: jobInclude,
        });
        await appendJobEvent(tx, {
          jobId: job.id,
          tenantId: input.tenantId,
          kind: 'status',
          toStatus: 'queued',
          data: { documents: n },
        });
        const outbox = await insertOutbox(tx, input.outbox);
        return { job: toJobView(job), created: true, outbox };
      });
    } catch (error) {
      if (
        input.idempotencyKey &&
        error instanceof Prisma.PrismaClientKnownRequestError &&
        error.code === 'P2002'
      ) {
        const existing = await this.prisma.job.findFirst({
          where: { tenantId: input.tenantId, idempotencyKey: input.idempotencyKey },
          include: jobInclude,
        });
        if (existing) return { job: toJobView(existing), created: false, outbox: [] };
      }
      throw error;
    }
  }

  async getJob(tenantId: string, jobId: string): Promise<JobView | null> {
    const job = await this.prisma.job.findFirst({ where: { id: jobId, tenantId }, include: jobInclude });
    return job ? toJobView(job) : null;
  }

  /** Newest first, keyset-paginated on (created_at, id) so pages stay stable while jobs are added. */
  async listJobs(
    tenantId: string,
    options: { status?: JobStatus | undefined; limit: number; cursor?: JobListCursor | undefined },
  ): Promise<{ items: JobView[]; next: JobListCursor | null }> {
    const where: Prisma.JobWhereInput = { tenantId, ...(options.status ? { status: options.status } : {}) };
    if (options.cursor) {
      const c = options.cursor;
      where.OR = [{ createdAt: { lt: c.createdAt } }, { createdAt: c.createdAt, id: { lt: c.id } }];
    }
    const rows = await this.prisma.job.findMany({
      where,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: options.limit + 1,
      include: jobInclude,
    });
    const items = rows.slice(0, options.limit).map(toJobView);
    const last = items[items.length - 1];
    return {
      items,
      next: rows.length > options.limit && last ? { createdAt: last.createdAt, id: last.id } : null,
    };
  }

  async getDocument(
    tenantId: string,
    documentId: string,
  ): Promise<(DocumentView & { pages: { pageNumber: number; text: string }[] }) | null> {
    const d = await this.prisma.document.findFirst({
      where: { id: documentId, tenantId },
      include: { pages: { orderBy: { pageNumber: 'asc' }, select: { pageNumber: true, text: true } } },
    });
    if (!d) return null;
    return { ...toDocumentView(d), pages: d.pages };
  }

  async ping(): Promise<void> {
    await this.prisma.$queryRaw`SELECT 1`;
  }
}

export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

export class TenantsRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** Makes sure the tenant exists and holds this key (stored hashed). Safe to run on every boot. */
  async ensureTenantWithKey(name: string, apiKey: string): Promise<{ tenantId: string }> {
    const tenant = await this.prisma.tenant.upsert({ where: { name }, create: { name }, update: {} });
    const keyHash = hashApiKey(apiKey);
    await this.prisma.apiKey.upsert({
      where: { keyHash },
      create: { tenantId: tenant.id, name: 'bootstrap', keyHash, prefix: apiKey.slice(0, 6) },
      update: {},
    });
    return { tenantId: tenant.id };
  }

  async findByApiKey(apiKey: string): Promise<{ tenantId: string; tenantName: string } | null> {
    const key = await this.prisma.apiKey.findUnique({
      where: { keyHash: hashApiKey(apiKey) },
      include: { tenant: true },
    });
    if (!key || key.revokedAt) return null;
    return { tenantId: key.tenantId, tenantName: key.tenant.name };
  }
}
