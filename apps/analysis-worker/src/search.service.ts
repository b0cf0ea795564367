import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { SearchReply, SearchRequest } from '@quarry/contracts';
import { OnRequest } from '@quarry/messaging';
import { ChunksRepository } from '@quarry/persistence';
import type { EmbeddingProvider } from '@quarry/retrieval';
import { QUARRY_METRICS, type QuarryMetrics } from '@quarry/telemetry';
import { EMBEDDING_PROVIDER } from './embeddings';

/**
 * Answers `svc.search` (request/reply in a queue group, through the JetStream transport): embed the query (unless
 * keyword-only) and rank the tenant's chunks of this worker's model by keyword, vector or both fused. A thrown error goes back to the gateway as `{ok: false, error: {code}}`.
 */
@Controller()
export class SearchService {
  constructor(
    private readonly chunks: ChunksRepository,
    @Inject(EMBEDDING_PROVIDER) private readonly embeddings: EmbeddingProvider,
    @Inject(QUARRY_METRICS) private readonly metrics: QuarryMetrics,
  ) {}

  /** Timed by result (ok, error): a slow or failing search shows whatever the cause. */
  @OnRequest('search')
  async search(@Payload() request: SearchRequest): Promise<SearchReply> {
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
    const model = { id: this.embeddings.id, dim: this.embeddings.dim };
    let vector: Float32Array | undefined;
    if (request.mode !== 'keyword') {
      [vector] = await this.embeddings.embed([request.query]);
      if (!vector) throw new Error('embedding provider returned no vector for the query');
    }
    const { hits, more } = await this.chunks.search({
      tenantId: request.tenantId,
      mode: request.mode,
      query: request.query,
      vector,
      model,
      filter: request.filter,
      topK: request.topK,
      offset: request.offset,
    });
    const round = (v: number) => Math.round(v * 10_000) / 10_000;
    return {
      ok: true,
      model: model.id,
      mode: request.mode,
      more,
      results: hits.map((h) => ({
        documentId: h.documentId,
        filename: h.filename,
        page: h.pageNumber,
        sectionPath: h.sectionPath,
        chunkId: h.chunkId,
        text: h.text,
        score: round(h.score),
        scores: {
          vector: h.vectorScore === null ? null : round(h.vectorScore),
          keyword: h.keywordScore === null ? null : round(h.keywordScore),
        },
        highlights: h.highlights,
      })),
    };
  }
}
