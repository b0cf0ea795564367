import { SearchReply, uuidv7, type SearchRequest } from '@quarry/contracts';
import type { ChunkSearch, ChunksRepository, SearchHitRow } from '@quarry/persistence';
import { FakeEmbeddingProvider, hashEmbedding } from '@quarry/retrieval';
import { QuarryMetrics } from '@quarry/telemetry';
import { PromText } from '@quarry/testing';
import { SearchService } from './search.service';

class FakeChunks implements Pick<ChunksRepository, 'search'> {
  hits: SearchHitRow[] = [];
  more = false;
  readonly calls: ChunkSearch[] = [];
  search(s: ChunkSearch): Promise<{ hits: SearchHitRow[]; more: boolean }> {
    this.calls.push(s);
    return Promise.resolve({ hits: this.hits, more: this.more });
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

const request = (over: Partial<SearchRequest> = {}): SearchRequest => ({
  v: 1,
  tenantId: uuidv7(),
  query: 'granite quarry',
  topK: 5,
  mode: 'hybrid',
  offset: 0,
  ...over,
});

const hit = (over: Partial<SearchHitRow> = {}): SearchHitRow => ({
  chunkId: uuidv7(),
  documentId: uuidv7(),
  filename: 'survey.pdf',
  pageNumber: 3,
  sectionPath: ['Geology', 'Granite'],
  text: 'the granite quarry',
  score: 0.876543,
  vectorScore: 0.91234,
  keywordScore: null,
  highlights: [{ start: 4, end: 18 }],
  ...over,
});

describe('SearchService.search', () => {
  it('embeds the query with the configured model and searches that model’s chunks in the tenant', async () => {
    const t = setup();
    const req = request({ filter: { tags: ['survey'] }, offset: 5 });
    const first = hit();
    t.chunks.hits = [first, hit({ pageNumber: 1, score: 0.12345678, vectorScore: null, keywordScore: 0.5 })];
    t.chunks.more = true;

    const reply = await t.service.search(req);

    expect(t.provider.calls).toEqual([['granite quarry']]);
    expect(t.chunks.calls).toEqual([
      {
        tenantId: req.tenantId,
        mode: 'hybrid',
        query: 'granite quarry',
        model: { id: 'fake-16', dim: 16 },
        vector: hashEmbedding('granite quarry', 16),
        filter: { tags: ['survey'] },
        topK: 5,
        offset: 5,
      },
    ]);
    expect(SearchReply.parse(reply)).toEqual({
      ok: true,
      model: 'fake-16',
      mode: 'hybrid',
      more: true,
      results: [
        {
          documentId: first.documentId,
          filename: 'survey.pdf',
          page: 3,
          sectionPath: ['Geology', 'Granite'],
          chunkId: first.chunkId,
          text: 'the granite quarry',
          score: 0.8765,
          scores: { vector: 0.9123, keyword: null },
          highlights: [{ start: 4, end: 18 }],
        },
        expect.objectContaining({
          page: 1,
          score: 0.1235,
          scores: { vector: null, keyword: 0.5 },
        }) as unknown,
      ],
    });
  });

  it('does not embed a keyword-only query', async () => {
    const t = setup();
    await t.service.search(request({ mode: 'keyword' }));
    expect(t.provider.calls).toEqual([]);
    expect(t.chunks.calls[0]?.vector).toBeUndefined();
  });

  it('answers an empty result list when nothing matches', async () => {
    const t = setup();
    expect(await t.service.search(request())).toEqual({
      ok: true,
      model: 'fake-16',
      mode: 'hybrid',
      more: false,
      results: [],
    });
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
