import { OpenAiStandIn, waitFor } from '@quarry/testing';
import { uploadFiveKinds } from './analyses-fixture';
import { QuarryStack, type JobBody } from './stack';

// A re-embed job: documents indexed with the local model, then the operator switches the workers to an
// OpenAI-compatible embedding server (a stand-in on loopback, talked to by the real `openai` client) and asks
// POST /v1/reindex. Search never mixes the two models and says which it used; the job moves every chunk from its
// stored text (nothing is parsed again), waits as long as a 429's Retry-After asks, and counts what it moved.

const DIM = 64;
const MODEL = 'stand-in-embed';

/** Feature hashing of a text's words into DIM dimensions: a real (if plain) embedding, the same text the same vector. */
function hashed(text: string): number[] {
  const v = new Array<number>(DIM).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let h = 2166136261;
    for (const ch of word) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
    v[(h >>> 0) % DIM] = (v[(h >>> 0) % DIM] ?? 0) + 1;
  }
  return v.some((x) => x !== 0) ? v : v.map((_, i) => (i === 0 ? 1 : 0));
}

interface SearchBody {
  model: string;
  results: { documentId: string; filename: string; chunkId: string }[];
}

describe('re-embed job (POST /v1/reindex)', () => {
  let stack: QuarryStack;
  let embedder: OpenAiStandIn;
  let ids: Record<string, string>;
  let rateLimitOnce = false;

  beforeAll(async () => {
    embedder = await OpenAiStandIn.start({
      embeddings: (call) => {
        if (rateLimitOnce) {
          rateLimitOnce = false;
          return { status: 429, headers: { 'retry-after': '2' }, body: { error: { message: 'slow down' } } };
        }
        return { vectors: call.input.map(hashed) };
      },
    });
    stack = await QuarryStack.start('reindex');
    ids = await uploadFiveKinds(stack);
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    await embedder?.close();
  });

  const search = (query: string, mode = 'hybrid') =>
    stack.request<SearchBody>('POST', '/v1/search', { json: { query, mode, topK: 5 } });

  it('moves every chunk to the new model from its stored text, and search uses one model at a time', async () => {
    const before = await search('dredging services invoice', 'keyword');
    expect(before.status).toBe(200);
    expect(before.body.model).toBe('use-lite-512');
    expect(before.body.results[0]?.documentId).toBe(ids['invoice.txt']);
    const chunkIdsBefore = before.body.results.map((r) => r.chunkId);

    const openai = {
      EMBEDDING_PROVIDER: 'openai',
      OPENAI_BASE_URL: embedder.baseUrl,
      OPENAI_API_KEY: 'sk-embed',
      EMBEDDING_MODEL: MODEL,
      EMBEDDING_DIM: String(DIM),
    };
    await stack.reconfigure('analysis-worker', openai);
    await stack.reconfigure('gateway', openai);

    // The chunks are all under the old model: the new one finds nothing rather than mixing the two.
    const between = await waitFor(
      async () => {
        const r = await search('dredging services invoice');
        return r.status === 200 ? r : undefined;
      },
      { timeoutMs: 30_000, description: 'search answered by the reconfigured worker' },
    );
    expect(between.body).toMatchObject({ model: `openai:${MODEL}`, results: [] });

    const wrong = await stack.request<{ code: string; message: string }>('POST', '/v1/reindex', {
      json: { model: 'use-lite-512' },
    });
    expect([wrong.status, wrong.body.code]).toEqual([400, 'validation_failed']);
    expect(wrong.body.message).toContain(`openai:${MODEL}`);

    const documents = await Promise.all(
      Object.values(ids).map((id) =>
        stack.request<{ chunkCount: number; pages: unknown[] }>('GET', `/v1/documents/${id}`),
      ),
    );
    const chunkCount = documents.reduce((n, d) => n + d.body.chunkCount, 0);
    embedder.embeddingsCalls.splice(0);
    rateLimitOnce = true;
    const accepted = await stack.request<{ id: string; status: string }>('POST', '/v1/reindex', { json: {} });
    expect(accepted.status).toBe(202);
    const job = (await stack.waitForTerminal(accepted.body.id)) as JobBody & {
      type: string;
      result: Record<string, unknown>;
    };
    expect(job.status).toBe('succeeded');
    expect(job.type).toBe('reindex');
    expect(job.result).toEqual({
      type: 'reindex',
      model: `openai:${MODEL}`,
      fromModels: ['use-lite-512'],
      documents: 5,
      chunks: chunkCount,
    });
    // The 429 was honoured: the job's second delivery came after the two seconds the server asked for.
    expect(job.attempts).toBe(2);
    const [limited, next] = embedder.embeddingsCalls;
    expect(next!.at - limited!.at).toBeGreaterThanOrEqual(1900);
    // Embedded from the stored chunk texts, one request per document after the refused one; no query embedded.
    const embedded = embedder.embeddingsCalls.slice(1).flatMap((c) => c.input);
    expect(embedded).toHaveLength(chunkCount);
    expect(embedder.embeddingsCalls.every((c) => c.model === MODEL && c.encodingFormat === 'float')).toBe(
      true,
    );

    const after = await search('dredging services invoice');
    expect(after.body.model).toBe(`openai:${MODEL}`);
    expect(after.body.results[0]?.documentId).toBe(ids['invoice.txt']);
    // The same chunks (ids, texts, pages) under the new model: nothing was parsed or cut again.
    const keywordAfter = await search('dredging services invoice', 'keyword');
    expect(keywordAfter.body.results.map((r) => r.chunkId)).toEqual(chunkIdsBefore);
  });

  it('has nothing left to move when asked again', async () => {
    const again = await stack.request<{ id: string }>('POST', '/v1/reindex', { json: {} });
    const job = (await stack.waitForTerminal(again.body.id)) as JobBody & { result: Record<string, unknown> };
    expect(job.status).toBe('succeeded');
    expect(job.result).toMatchObject({ documents: 0, chunks: 0, fromModels: [] });
  });
});
