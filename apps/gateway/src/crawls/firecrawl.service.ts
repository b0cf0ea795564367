import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { commandEnvelope, QuarryError, uuidv7, type Lane, type Topology } from '@quarry/contracts';
import { BLOB_STORE, TOPOLOGY, type BlobStore } from '@quarry/messaging';
import { CrawlsRepository, type NewDocument } from '@quarry/persistence';
import {
  currentOrNewTraceparent,
  LOGGER,
  parseTraceparent,
  QUARRY_METRICS,
  type Logger,
  type QuarryMetrics,
} from '@quarry/telemetry';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { parseInput } from '../http/validation';
import { QuotaService } from '../usage/quota.service';
import {
  FirecrawlDelivery,
  planFirecrawlDelivery,
  verifyFirecrawlSignature,
  type DeliveredPage,
} from './firecrawl-delivery';
import type { FirecrawlReceipt } from '../http/response-schemas';

/**
 * Receives Firecrawl's webhook deliveries for the tenant whose API key came with them: verifies the signature,
 * stores each page's Markdown as a blob, and hands the rest to one transaction (receipt, crawl job, documents,
 * commands, closing). Parsing and indexing happen in the workers, so the answer comes within a second.
 */
@Injectable()
export class FirecrawlReceiver {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(QUARRY_METRICS) private readonly metrics: QuarryMetrics,
    private readonly crawls: CrawlsRepository,
    private readonly quotas: QuotaService,
  ) {}

  async receive(
    tenantId: string,
    rawBody: Buffer | undefined,
    signature: string | undefined,
    requestedLane: Lane | null,
  ): Promise<FirecrawlReceipt> {
    const secret = this.config.firecrawl.webhookSecret;
    if (secret === undefined) {
      throw new QuarryError(
        'feature_disabled',
        'the Firecrawl receiver is off: set FIRECRAWL_WEBHOOK_SECRET to the account webhook secret',
      );
    }
    if (rawBody === undefined)
      throw new QuarryError('validation_failed', 'send the delivery as application/json');
    verifyFirecrawlSignature(secret, rawBody, signature);
    let json: unknown;
    try {
      json = JSON.parse(rawBody.toString('utf8'));
    } catch (error) {
      throw new QuarryError('validation_failed', 'the delivery is not JSON', { cause: error });
    }
    const delivery = parseInput(FirecrawlDelivery, json, 'delivery');
    const plan = planFirecrawlDelivery(delivery);
    if (plan.kind === 'ignored') {
      this.logger.info({ tenantId, type: delivery.type, crawlId: delivery.id }, plan.reason);
      return { received: true, documents: 0, ignored: plan.reason };
    }
    // A delivery without webhookId is deduplicated by its content: Firecrawl retries send the same body.
    const deliveryId = delivery.webhookId ?? `sha256:${createHash('sha256').update(rawBody).digest('hex')}`;
    // Pages are new work: a tenant past a monthly quota gets 429 before any is stored (ADR 32). A delivery that only
    // ends the crawl is let through, so the crawl's job can finish.
    if (plan.pages.length > 0) await this.quotas.assertWithinQuota(tenantId);
    const documents = await this.storePages(tenantId, plan.pages);
    const traceparent = currentOrNewTraceparent();
    let result: Awaited<ReturnType<CrawlsRepository['receive']>>;
    try {
      result = await this.crawls.receive({
        tenantId,
        source: 'firecrawl',
        deliveryId,
        eventType: delivery.type,
        crawlRef: `firecrawl:${plan.crawlId}`,
        newJob: {
          id: uuidv7(),
          // A crawl is many documents at once: the bulk lane, unless the crawler's headers ask otherwise.
          lane: requestedLane ?? 'bulk',
          traceparent,
          traceId: parseTraceparent(traceparent)?.traceId ?? null,
        },
        documents,
        command: (c) =>
          commandEnvelope(this.topology, 'ingestDocument', {
            v: 1,
            jobId: c.jobId,
            tenantId,
            documentId: c.documentId,
            traceparent: c.traceparent,
            lane: c.lane,
          }),
        ...(plan.close ? { close: plan.close } : {}),
      });
    } catch (error) {
      await this.discard(documents);
      throw error;
    }
    if (result.outcome === 'duplicate') {
      await this.discard(documents);
      return {
        received: true,
        documents: 0,
        duplicate: true,
        ...(result.jobId ? { jobId: result.jobId } : {}),
      };
    }
    if (result.outcome === 'job_finished') {
      await this.discard(documents);
      this.logger.warn(
        {
          tenantId,
          crawlId: plan.crawlId,
          jobId: result.jobId,
          status: result.status,
          pages: documents.length,
        },
        'crawl delivery after its job ended: pages not added',
      );
      return { received: true, jobId: result.jobId, documents: 0, jobFinished: true };
    }
    const added = new Set(result.added);
    await this.discard(documents.filter((d) => !added.has(d.id)));
    if (result.created)
      this.metrics.counter('quarry_jobs_created_total').inc({ type: 'ingest', lane: 'bulk' });
    this.logger.info(
      {
        tenantId,
        jobId: result.jobId,
        crawlId: plan.crawlId,
        type: delivery.type,
        documents: result.added.length,
        skipped: result.skipped,
        closed: result.closed,
      },
      'crawl delivery accepted',
    );
    return { received: true, jobId: result.jobId, documents: result.added.length };
  }

  /** Each page's content into the blob store before the transaction; failed pages have no bytes. */
  private async storePages(tenantId: string, pages: DeliveredPage[]): Promise<NewDocument[]> {
    const documents: NewDocument[] = [];
    try {
      for (const page of pages) {
        const id = uuidv7();
        const blobKey = `${tenantId}/${id}`;
        const base = {
          id,
          filename: page.filename,
          blobKey,
          source: 'crawl' as const,
          sourceUrl: page.sourceUrl,
          httpStatus: page.httpStatus,
          title: page.title,
          metadata: page.metadata,
        };
        if (page.content === null || page.failure) {
          documents.push({
            ...base,
            claimedContentType: null,
            sha256: null,
            sizeBytes: null,
            ...(page.failure ? { failed: page.failure } : {}),
          });
          continue;
        }
        const bytes = page.content.bytes;
        await this.blobs.put(blobKey, Readable.toWeb(Readable.from([bytes])) as ReadableStream<Uint8Array>, {
          filename: page.filename,
        });
        documents.push({
          ...base,
          claimedContentType: page.content.contentType,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          sizeBytes: bytes.byteLength,
        });
      }
    } catch (error) {
      await this.discard(documents);
      throw error;
    }
    return documents;
  }

  private async discard(documents: NewDocument[]): Promise<void> {
    for (const d of documents) {
      if (d.sha256 === null) continue;
      await this.blobs
        .delete(d.blobKey)
        .catch((error: unknown) =>
          this.logger.warn(
            { err: error, blobKey: d.blobKey },
            'could not delete the blob of a page not added',
          ),
        );
    }
  }
}
