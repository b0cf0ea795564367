import type { Msg, Subscription } from '@nats-io/transport-node';
import { GatewayHarness, type ErrorBody } from '../testing/gateway-harness';

const SEARCH_TIMEOUT_MS = 300;

let h: GatewayHarness;
let responder: Subscription | undefined;

beforeAll(async () => {
  h = await GatewayHarness.start('search', { SEARCH_TIMEOUT_MS: String(SEARCH_TIMEOUT_MS) });
});
afterEach(() => {
  responder?.unsubscribe();
  responder = undefined;
});
afterAll(async () => {
  await h?.close();
});

/** Stands in for the analysis worker on the namespace's search subject; records what it was asked. */
async function fakeSearchService(
  answer: (request: Record<string, unknown>) => unknown,
): Promise<Record<string, unknown>[]> {
  const seen: Record<string, unknown>[] = [];
  responder = h.ns.nc.subscribe(h.ns.topology.serviceSubject('search'), {
    callback: (_err, msg: Msg) => {
      const request = msg.json<Record<string, unknown>>();
      seen.push(request);
      const reply = answer(request);
      if (reply !== undefined) msg.respond(typeof reply === 'string' ? reply : JSON.stringify(reply));
    },
  });
  await h.ns.nc.flush();
  return seen;
}

const search = (payload: unknown, apiKey?: string) =>
  h.request<Record<string, unknown>>('POST', '/v1/search', {
    ...(apiKey ? { apiKey } : {}),
    ...(typeof payload === 'string'
      ? { payload, headers: { 'content-type': 'application/json' } }
      : { payload: payload as Record<string, unknown> }),
  });

describe('POST /v1/search: input validation', () => {
  it.each([
    ['an empty object', {}],
    ['a missing query', { topK: 3 }],
    ['an empty query', { query: '' }],
    ['a blank query', { query: '   ' }],
    ['a query over 2000 characters', { query: 'q'.repeat(2001) }],
    ['a non-string query', { query: 42 }],
    ['topK 0', { query: 'x', topK: 0 }],
    ['topK 1000', { query: 'x', topK: 1000 }],
    ['a fractional topK', { query: 'x', topK: 2.5 }],
    ['topK as a string', { query: 'x', topK: '5' }],
    ['an extra field', { query: 'x', tenantId: '0194f3b0-0000-7000-8000-000000000000' }],
    ['a JSON array', '[]'],
    ['JSON null', 'null'],
    ['a body that is not JSON', '{"query": "x"'],
    ['an unknown mode', { query: 'x', mode: 'fuzzy' }],
    ['an unknown filter field', { query: 'x', filter: { owner: 'me' } }],
    ['a metadata key with SQL in it', { query: 'x', filter: { metadata: { "a') OR 1=1 --": 'x' } } }],
    ['a metadata condition that is an object', { query: 'x', filter: { metadata: { a: { $ne: 1 } } } }],
    ['an empty in-list', { query: 'x', filter: { metadata: { a: { in: [] } } } }],
    ['a document id that is not a UUID', { query: 'x', filter: { documentIds: ['1; DROP TABLE chunks'] } }],
    ['a creation time that is not a date', { query: 'x', filter: { createdAfter: 'yesterday' } }],
    ['a cursor that is not one', { query: 'x', cursor: 'bm90IGEgY3Vyc29y' }],
  ])('answers 400 validation_failed for %s, without asking the search service', async (_name, payload) => {
    const seen = await fakeSearchService(() => ({
      ok: true,
      model: 'm',
      mode: 'hybrid',
      more: false,
      results: [],
    }));
    const res = await search(payload);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'validation_failed', message: expect.any(String) as unknown });
    expect(seen).toEqual([]);
  });
});

describe('POST /v1/search: the search service', () => {
  it('answers 503 search_unavailable at once when no analysis worker is subscribed', async () => {
    const started = Date.now();
    const res = await search({ query: 'anything' });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: 'search_unavailable', errorId: expect.any(String) as unknown });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('answers 503 search_unavailable after SEARCH_TIMEOUT_MS when the worker does not answer', async () => {
    const seen = await fakeSearchService(() => undefined);
    const started = Date.now();
    const res = await search({ query: 'slow' });
    const took = Date.now() - started;
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: 'search_unavailable' });
    expect(seen).toHaveLength(1);
    expect(took).toBeGreaterThanOrEqual(SEARCH_TIMEOUT_MS - 50);
    expect(took).toBeLessThan(SEARCH_TIMEOUT_MS + 3000);
  });

  it("maps the worker's hits to the public result shape, sending the caller's tenant and defaults", async () => {
    const hit = {
      documentId: '0194f3b0-0000-7000-8000-0000000000d1',
      filename: 'guide.pdf',
      page: 3,
      sectionPath: ['Setup', 'Install'],
      chunkId: '0194f3b0-0000-7000-8000-0000000000c1',
      text: 'the matching passage',
      score: 0.0325,
      scores: { vector: 0.87, keyword: 0.1 },
      highlights: [{ start: 13, end: 20 }],
    };
    const seen = await fakeSearchService(() => ({
      ok: true,
      model: 'm',
      mode: 'hybrid',
      more: false,
      // Fields the worker may add are not passed on.
      results: [
        { ...hit, embedding: [0.1, 0.2], tenantId: 'internal' },
        { ...hit, page: 4, score: 0.02, scores: { vector: 0.5, keyword: null }, highlights: [] },
      ],
    }));
    const res = await search({ query: '  passage  ' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      model: 'm',
      mode: 'hybrid',
      results: [
        hit,
        { ...hit, page: 4, score: 0.02, scores: { vector: 0.5, keyword: null }, highlights: [] },
      ],
      nextCursor: null,
    });
    expect(seen).toEqual([
      { v: 1, tenantId: h.tenantId, query: 'passage', topK: 5, mode: 'hybrid', offset: 0 },
    ]);

    const other = await h.createTenant('searcher');
    const again = await search({ query: 'q', topK: 50 }, other.apiKey);
    expect(again.status).toBe(200);
    expect(seen[1]).toEqual({
      v: 1,
      tenantId: other.tenantId,
      query: 'q',
      topK: 50,
      mode: 'hybrid',
      offset: 0,
    });
  });

  it('passes the mode and the filter on, and pages with a cursor bound to its search', async () => {
    const hit = {
      documentId: '0194f3b0-0000-7000-8000-0000000000d1',
      filename: 'guide.pdf',
      page: 1,
      sectionPath: [],
      chunkId: '0194f3b0-0000-7000-8000-0000000000c1',
      text: 'INV-20931',
      score: 1,
      scores: { vector: null, keyword: 1 },
      highlights: [{ start: 0, end: 9 }],
    };
    const seen = await fakeSearchService((request) => ({
      ok: true,
      model: 'm',
      mode: request['mode'],
      more: request['offset'] === 0,
      results: [hit, hit],
    }));
    const filter = { tags: ['finance'], metadata: { year: { in: [2025, 2026] }, dept: 'accounts' } };
    const body = { query: 'INV-20931', mode: 'keyword', topK: 2, filter };
    const first = await search(body);
    expect(first.status).toBe(200);
    expect(seen[0]).toEqual({
      v: 1,
      tenantId: h.tenantId,
      query: 'INV-20931',
      topK: 2,
      mode: 'keyword',
      offset: 0,
      filter,
    });
    const cursor = first.body['nextCursor'];
    expect(typeof cursor).toBe('string');

    const second = await search({ ...body, cursor });
    expect(second.status).toBe(200);
    expect(seen[1]).toMatchObject({ offset: 2 });
    expect(second.body['nextCursor']).toBeNull();

    const wrong = await search({ ...body, query: 'another query', cursor });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toMatchObject({
      code: 'validation_failed',
      message: expect.stringMatching(/another search/) as unknown,
    });
    expect(seen).toHaveLength(2);
  });

  it('answers an empty result list as 200', async () => {
    await fakeSearchService(() => ({ ok: true, model: 'm', mode: 'vector', more: false, results: [] }));
    const res = await search({ query: 'nothing matches', topK: 1, mode: 'vector' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ model: 'm', mode: 'vector', results: [], nextCursor: null });
  });

  it("passes on the worker's validation_failed as 400 and other failures as 503 search_unavailable", async () => {
    let code = 'validation_failed';
    await fakeSearchService(() => ({ ok: false, error: { code, message: 'query too odd' } }));
    const bad = await search({ query: 'odd' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'validation_failed', message: 'query too odd' });

    code = 'embedding_failed';
    const down = await search({ query: 'odd' });
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ code: 'search_unavailable', errorId: expect.any(String) as unknown });
  });

  it('answers a malformed worker reply with a 5xx that carries an errorId and no internals', async () => {
    await fakeSearchService(() => ({ ok: true, results: [{ documentId: 'not-a-uuid' }] }));
    const res = await search({ query: 'x' });
    expect(res.status).toBeGreaterThanOrEqual(500);
    const body = res.body as unknown as ErrorBody;
    expect(body.errorId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.message).not.toMatch(/not-a-uuid|zod|invalid_format/i);
  });
});
