import { SearchReply, uuidv7, type SearchRequest } from '@quarry/contracts';
import type { ChunksRepository, SearchHitRow } from '@quarry/persistence';
import { FakeEmbeddingProvider, hashEmbedding } from '@quarry/retrieval';
import { QuarryMetrics } from '@quarry/telemetry';
import { PromText } from '@quarry/testing';
import { SearchService } from './search.service';

class FakeChunks implements Pick<ChunksRepository, 'searchByVector'> {
  hits: SearchHitRow[] = [];
  readonly calls: {
    tenantId: string;
    model: { id: string; dim: number };
    vector: Float32Array;
    topK: number;
  }[] = [];
  searchByVector(
    tenantId: string,
    model: { id: string; dim: number },
    vector: Float32Array,
    topK: number,
  ): Promise<SearchHitRow[]> {
    this.calls.push({ tenantId, model, vector, topK });
    return Promise.resolve(this.hits);
  }
}

function setup(provider = new FakeEmbeddingProvider({ dim: 16, id: 'fake-16' })) {
  const chunks = new FakeChunks();
  const metrics = new QuarryMetrics({ app: 'analysis-worker', processMetrics: false });
  const service = new SearchService(chunks as unknown as ChunksRepository, provider, metrics);
  const searches = async (result: string) =>
    PromText.parse(await metrics.metrics()).sum('quarry_search_duration_seconds_count', { result });
  return { chunks, service, provider, searches };
}

const request = (): SearchRequest => ({ v: 1, tenantId: uuidv7(), query: 'granite quarry', topK: 5 });

describe('SearchService.search', () => {
  it('embeds the query with the configured model and searches that model’s vectors in the tenant', async () => {
    const t = setup();
    const req = request();
    const hit: SearchHitRow = {
      chunkId: uuidv7(),
      documentId: uuidv7(),
      filename: 'survey.pdf',
      pageNumber: 3,
      text: 'the granite quarry',
      score: 0.876543,
    };
    t.chunks.hits = [hit, { ...hit, chunkId: uuidv7(), pageNumber: 1, score: 0.12345678 }];

    const reply = await t.service.search(req);

    expect(t.provider.calls).toEqual([['granite quarry']]);
    expect(t.chunks.calls).toEqual([
      {
        tenantId: req.tenantId,
        model: { id: 'fake-16', dim: 16 },
        vector: hashEmbedding('granite quarry', 16),
        topK: 5,
      },
    ]);
    expect(SearchReply.parse(reply)).toEqual({
      ok: true,
      model: 'fake-16',
      results: [
        {
          documentId: hit.documentId,
          filename: 'survey.pdf',
          page: 3,
          chunkId: hit.chunkId,
          text: 'the granite quarry',
          score: 0.8765,
        },
        expect.objectContaining({ page: 1, score: 0.1235 }) as unknown,
      ],
    });
  });

  it('answers an empty result list when nothing matches', async () => {
    const t = setup();
    expect(await t.service.search(request())).toEqual({ ok: true, model: 'fake-16', results: [] });
    expect(await t.searches('ok')).toBe(1);
  });

  it('fails when the provider returns no vector for the query', async () => {
    const t = setup();
    jest.spyOn(t.provider, 'embed').mockResolvedValue([]);
    await expect(t.service.search(request())).rejects.toThrow(/no vector/);
    expect(t.chunks.calls).toEqual([]);
    expect(await t.searches('error')).toBe(1);
    expect(await t.searches('ok')).toBe(0);
  });
});
