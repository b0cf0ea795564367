import {
  isTerminalJobStatus,
  type ErrorInfo,
  type JobStatus,
  type Lane,
  type Topology,
} from '@quarry/contracts';
import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { inTransaction, type CommitNotes, type AfterCommit } from './after-commit';
import { finishJobIfDone } from './job-completion';
import { insertIngestJob, newDocumentData } from './jobs.repository';
import { appendJobEvent, growSteps, insertOutbox, type Tx } from './sql';
import type { NewDocument, OutboxInsert, OutboxRow } from './types';
import { recordUsage, type UsageInput } from './usage';

/** One webhook delivery of a crawler, as the gateway decoded it (the pages' bytes already stored). */
export interface CrawlDelivery {
  tenantId: string;
  /** 'firecrawl' */
  source: string;
  /** The sender's id of this delivery, the same on its retries. */
  deliveryId: string;
  eventType: string;
  /** '<source>:<crawl id>': one job per crawl and tenant. */
  crawlRef: string;
  /** Used when this is the crawl's first delivery. */
  newJob: { id: string; lane: Lane; traceparent: string; traceId: string | null };
  /** The pages of this delivery; a page URL the job already has is skipped. */
  documents: NewDocument[];
  /** The ingest command of a new document, addressed by the caller. */
  command: (c: { jobId: string; documentId: string; lane: Lane; traceparent: string }) => OutboxInsert;
  /** The crawl ended (completed, or failed with this error): the job may finish once its documents have. */
  close?: { error?: ErrorInfo };
}

export type CrawlDeliveryResult =
  /** This delivery id was taken before: nothing done. */
  | { outcome: 'duplicate'; jobId: string | null }
  /** The crawl's job had already ended; the delivery's pages were not added. */
  | { outcome: 'job_finished'; jobId: string; status: JobStatus }
  | {
      outcome: 'accepted';
      jobId: string;
      created: boolean;
      /** Documents added (the ids), and pages skipped because the job had their URL already. */
      added: string[];
      skipped: number;
      closed: boolean;
      outbox: OutboxRow[];
    };

interface CrawlJobRow {
  id: string;
  status: JobStatus;
  lane: string;
  traceparent: string | null;
}

/**
 * A crawler's deliveries into one job per crawl: the receipt (so a retried delivery is a no-op), the job (found or
 * created), its new documents with their ingest commands and, when the crawl ends, the job's closing, all in one
 * transaction. The job cannot finish while it accepts documents, however quickly its first pages are indexed.
 * What a commit wrote (commands, a job's ending) goes to the after-commit port before the call returns.
 */
export class CrawlsRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly topology: Topology,
    private readonly afterCommit: AfterCommit,
  ) {}

  async receive(delivery: CrawlDelivery): Promise<CrawlDeliveryResult> {
    const receive = (tx: Tx, notes: CommitNotes) => this.receiveIn(tx, notes, delivery);
    try {
      return await inTransaction(this.prisma, this.afterCommit, receive);
    } catch (error) {
      // The crawl's first two deliveries raced to create its job: the loser runs again and finds it.
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        return inTransaction(this.prisma, this.afterCommit, receive);
      }
      throw error;
    }
  }

  private async receiveIn(tx: Tx, notes: CommitNotes, d: CrawlDelivery): Promise<CrawlDeliveryResult> {
    const receipt = await tx.$queryRaw<{ delivery_id: string }[]>`
      INSERT INTO webhook_receipts (tenant_id, source, delivery_id, event_type)
      VALUES (${d.tenantId}::uuid, ${d.source}, ${d.deliveryId}, ${d.eventType})
      ON CONFLICT DO NOTHING
      RETURNING delivery_id`;
    if (receipt.length === 0) {
      const [earlier] = await tx.$queryRaw<{ job_id: string | null }[]>`
        SELECT job_id FROM webhook_receipts
        WHERE tenant_id = ${d.tenantId}::uuid AND source = ${d.source} AND delivery_id = ${d.deliveryId}`;
      return { outcome: 'duplicate', jobId: earlier?.job_id ?? null };
    }

    let created = false;
    let job = await this.lockCrawlJob(tx, d.tenantId, d.crawlRef);
    if (!job) {
      await insertIngestJob(tx, {
        id: d.newJob.id,
        tenantId: d.tenantId,
        lane: d.newJob.lane,
        idempotencyKey: null,
        traceparent: d.newJob.traceparent,
        traceId: d.newJob.traceId,
        documents: [],
        outbox: [],
        acceptingDocuments: true,
        crawlRef: d.crawlRef,
      });
      created = true;
      job = await this.lockCrawlJob(tx, d.tenantId, d.crawlRef);
    }
    if (!job) throw new Error(`crawl job ${d.crawlRef} vanished inside its own transaction`);
    await tx.$executeRaw`
      UPDATE webhook_receipts SET job_id = ${job.id}::uuid
      WHERE tenant_id = ${d.tenantId}::uuid AND source = ${d.source} AND delivery_id = ${d.deliveryId}`;
    if (isTerminalJobStatus(job.status))
      return { outcome: 'job_finished', jobId: job.id, status: job.status };

    // Every delivery is a sign of life of the crawl (see closeIdleCrawls).
    await tx.$executeRaw`UPDATE jobs SET updated_at = now() WHERE id = ${job.id}::uuid`;
    const lane: Lane = job.lane === 'bulk' ? 'bulk' : 'interactive';
    const urls = d.documents.map((doc) => doc.sourceUrl ?? null);
    const known = await tx.$queryRaw<{ source_url: string }[]>`
      SELECT source_url FROM documents
      WHERE job_id = ${job.id}::uuid AND source_url = ANY(${urls.filter((u): u is string => u !== null)}::text[])`;
    const seen = new Set(known.map((k) => k.source_url));
    const fresh: NewDocument[] = [];
    for (const doc of d.documents) {
      // The same page twice in one job (a crawler's retry after a timeout, or its completed event repeating the
      // pages) would be indexed twice; the first delivery of a URL wins.
      if (doc.sourceUrl && seen.has(doc.sourceUrl)) continue;
      if (doc.sourceUrl) seen.add(doc.sourceUrl);
      fresh.push(doc);
    }
    if (fresh.length > 0) {
      await tx.document.createMany({
        data: fresh.map((doc) => ({ ...newDocumentData(d.tenantId, doc), jobId: job.id })),
      });
    }
    const queued = fresh.filter((doc) => !doc.failed);
    // The pages accepted for work and the bytes stored for them (ADR 32); a page the crawler could not deliver has
    // neither. A skipped page's blob is deleted by the gateway, so it is not metered.
    await recordUsage(
      tx,
      fresh.flatMap((doc): UsageInput[] => {
        const of = (metric: UsageInput['metric'], quantity: number): UsageInput => ({
          tenantId: d.tenantId,
          jobId: job.id,
          subjectId: doc.id,
          metric,
          quantity,
        });
        return [of('documents', doc.failed ? 0 : 1), of('storage_bytes', doc.sizeBytes ?? 0)];
      }),
    );
    await growSteps(tx, job.id, queued.length);
    await appendJobEvent(tx, {
      jobId: job.id,
      tenantId: d.tenantId,
      kind: 'crawl_delivery',
      data: {
        source: d.source,
        type: d.eventType,
        deliveryId: d.deliveryId,
        documents: fresh.map((doc) => doc.id),
        skipped: d.documents.length - fresh.length,
        ...(d.close ? { closed: true } : {}),
      },
    });
    const traceparent = job.traceparent ?? d.newJob.traceparent;
    const outbox = notes.rows(
      await insertOutbox(
        tx,
        queued.map((doc) => d.command({ jobId: job.id, documentId: doc.id, lane, traceparent })),
      ),
    );
    if (d.close) {
      await tx.$executeRaw`
        UPDATE jobs SET accepting_documents = false, updated_at = now() WHERE id = ${job.id}::uuid`;
      outbox.push(...notes.ended(await finishJobIfDone(tx, this.topology, job.id, d.close)));
    }
    return {
      outcome: 'accepted',
      jobId: job.id,
      created,
      added: fresh.map((doc) => doc.id),
      skipped: d.documents.length - fresh.length,
      closed: d.close !== undefined,
      outbox,
    };
  }

  private async lockCrawlJob(tx: Tx, tenantId: string, crawlRef: string): Promise<CrawlJobRow | undefined> {
    const [job] = await tx.$queryRaw<CrawlJobRow[]>`
      SELECT id, status::text AS status, lane, traceparent FROM jobs
      WHERE tenant_id = ${tenantId}::uuid AND crawl_ref = ${crawlRef}
      FOR UPDATE`;
    return job;
  }

  /**
   * Closes crawl jobs the crawler fell silent on: no delivery and no document activity for `idleMs`. Without it a
   * crawl whose final delivery never arrived (the receiver was down longer than the sender retries) would stay
   * open forever. Returns the outbox rows of the jobs this finished (each handed to the port after its commit).
   */
  async closeIdleCrawls(idleMs: number, limit: number): Promise<{ closed: string[]; outbox: OutboxRow[] }> {
    const idle = await this.prisma.$queryRaw<{ id: string }[]>`
      SELECT id FROM jobs
      WHERE accepting_documents AND status IN ('queued', 'running')
        AND greatest(coalesce(heartbeat_at, created_at), updated_at) < now() - make_interval(secs => ${idleMs / 1000}::float8)
      ORDER BY updated_at
      LIMIT ${limit}`;
    const closed: string[] = [];
    const outbox: OutboxRow[] = [];
    for (const { id } of idle) {
      const rows = await inTransaction(this.prisma, this.afterCommit, async (tx, notes) => {
        const moved = await tx.$executeRaw`
          UPDATE jobs SET accepting_documents = false, updated_at = now()
          WHERE id = ${id}::uuid AND accepting_documents AND status IN ('queued', 'running')`;
        if (moved === 0) return null;
        const [job] = await tx.$queryRaw<{ tenant_id: string }[]>`
          SELECT tenant_id FROM jobs WHERE id = ${id}::uuid FOR UPDATE`;
        if (!job) return null;
        await appendJobEvent(tx, {
          jobId: id,
          tenantId: job.tenant_id,
          kind: 'crawl_closed',
          data: { reason: 'idle' },
        });
        return notes.ended(
          await finishJobIfDone(tx, this.topology, id, {
            error: {
              code: 'crawl_failed',
              message: `the crawler sent nothing for ${Math.round(idleMs / 1000)} s`,
            },
          }),
        );
      });
      if (rows === null) continue;
      closed.push(id);
      outbox.push(...rows);
    }
    return { closed, outbox };
  }
}
