import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { SearchReply, SearchRequest, Topology } from '@quarry/contracts';
import { NATS_CONNECTION, serveRequests, TOPOLOGY } from '@quarry/messaging';
import { ChunksRepository } from '@quarry/persistence';
import type { EmbeddingProvider } from '@quarry/retrieval';
import { LOGGER, QUARRY_METRICS, type Logger, type QuarryMetrics } from '@quarry/telemetry';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { EMBEDDING_PROVIDER } from './embeddings';

/** Answers `svc.search` (request/reply, queue group): embed the query, cosine top-k in the tenant. */
@Injectable()
export class SearchService implements OnApplicationBootstrap, OnApplicationShutdown {
  private subscription: Subscription | undefined;

  constructor(
    private readonly chunks: ChunksRepository,
    @Inject(EMBEDDING_PROVIDER) private readonly embeddings: EmbeddingProvider,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(TOPOLOGY) private readonly topology: Topology,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(QUARRY_METRICS) private readonly metrics: QuarryMetrics,
  ) {}

  /** Timed by result (ok, error): a slow or failing search shows whatever the cause. */
  async search(request: SearchRequest): Promise<SearchReply> {
    const started = performance.now();
    let result = 'error';
    try {
      const reply = await this.answer(request);
      result = 'ok';
      return reply;
    } finally {
      this.metrics
        .histogram('quarry_search_duration_seconds')
        .observe({ result }, (performance.now() - started) / 1000);
    }
  }

  private async answer(request: SearchRequest): Promise<SearchReply> {
    const [vector] = await this.embeddings.embed([request.query]);
    if (!vector) throw new Error('embedding provider returned no vector for the query');
    const hits = await this.chunks.searchByVector(
      request.tenantId,
      { id: this.embeddings.id, dim: this.embeddings.dim },
      vector,
      request.topK,
    );
    return {
      ok: true,
      model: this.embeddings.id,
      results: hits.map((h) => ({
        documentId: h.documentId,
        filename: h.filename,
        page: h.pageNumber,
        chunkId: h.chunkId,
        text: h.text,
        score: Math.round(h.score * 10_000) / 10_000,
      })),
    };
  }

  onApplicationBootstrap(): void {
    this.subscription = serveRequests(this.nc, this.topology, 'search', (r) => this.search(r), this.logger);
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }
}
