import { MessageIds } from '@quarry/contracts';
import {
  ExtractionRepository,
  IndexingRepository,
  type AfterCommit,
  type ChunkInput,
  type DocumentWork,
  type ExtractionResult,
} from '@quarry/persistence';
import { createHmac, randomUUID } from 'node:crypto';
import { GatewayHarness, type ErrorBody, type UploadBody } from '../testing/gateway-harness';
import type { UsageReport } from './usage-report';

// GET /v1/usage and the quotas at the edge (ADR 32), on the real gateway with its database and NATS namespace. No
// worker runs: a document's steps are taken through the step repositories the workers use, on the same database.

const FIRECRAWL_SECRET = 'usage-test-firecrawl-secret';
/** The deployment's embedding-token quota; a tenant's own setting overrides it. */
const TOKENS_PER_MONTH = 18;

let h: GatewayHarness;
let extraction: ExtractionRepository;
let indexing: IndexingRepository;

beforeAll(async () => {
  h = await GatewayHarness.start('usage', {
    QUOTA_EMBEDDING_TOKENS_PER_MONTH: String(TOKENS_PER_MONTH),
    FIRECRAWL_WEBHOOK_SECRET: FIRECRAWL_SECRET,
  });
  // Nothing to publish: the test plays the workers' part only as far as the database.
  const quiet: AfterCommit = { committed: () => Promise.resolve() };
  extraction = new ExtractionRepository(h.prisma, h.ns.topology, quiet);
  indexing = new IndexingRepository(h.prisma, h.ns.topology, quiet);
});
afterAll(async () => {
  await h?.close();
});

const PAGES: ExtractionResult = {
  detectedType: 'pdf',
  pages: [
    { pageNumber: 1, text: 'the typed first page', method: 'text_layer' },
    { pageNumber: 2, text: 'a scanned second page', method: 'ocr', ocrConfidence: 88 },
    { pageNumber: 3, text: 'the typed third page', method: 'text_layer' },
  ],
};

function chunks(tokens: number[]): ChunkInput[] {
  return tokens.map((tokenCount, i) => ({
    pageNumber: 1,
    ordinal: i,
    text: `chunk ${i}`,
    tokenCount,
    charStart: 0,
    charEnd: 7,
    embedding: new Float32Array(512).fill(i + 1),
  }));
}

/** The ingest worker's part for one document: claim it, store its pages; then the analysis worker's, if asked. */
async function process(tenantId: string, documentId: string, chunkTokens?: number[]): Promise<void> {
  const claim = await extraction.claimForExtraction(tenantId, documentId);
  if (!claim.claimed) throw new Error(claim.reason);
  const work: DocumentWork = claim.work;
  const next = {
    tenantId,
    jobId: work.jobId,
    subject: h.ns.topology.commandSubject('indexDocument'),
    msgId: MessageIds.command('indexDocument', work.jobId, documentId),
    payload: { v: 1, jobId: work.jobId, tenantId, documentId },
    headers: {},
  };
  expect(await extraction.completeExtraction(work, PAGES, next)).not.toBeNull();
  if (!chunkTokens) return;
  const indexClaim = await indexing.claimForIndexing(tenantId, documentId);
  if (!indexClaim.claimed) throw new Error(indexClaim.reason);
  expect(
    await indexing.completeIndexing(indexClaim.work, chunks(chunkTokens), { id: 'use-lite-512', dim: 512 }),
  ).not.toBeNull();
}

const uploadOf = (apiKey: string, ...contents: string[]) =>
  h.upload<UploadBody & ErrorBody>(
    contents.map((content, i) => ({ filename: `file-${i}.txt`, content, contentType: 'text/plain' })),
    { apiKey },
  );

const usageOf = (apiKey: string, query: Record<string, string> = {}) =>
  h.request<UsageReport & ErrorBody>('GET', '/v1/usage', { apiKey, query });

const zero = {
  documents: 0,
  pagesParsed: 0,
  pagesOcr: 0,
  chunksEmbedded: 0,
  embeddingTokens: 0,
  llmTokens: 0,
  storageBytes: 0,
};

const today = () => new Date().toISOString().slice(0, 10);

describe('GET /v1/usage', () => {
  it("reports the tenant's documents, bytes, pages, OCR pages, chunks and tokens, in total and by day", async () => {
    const { apiKey, tenantId } = await h.createTenant('usage-report');
    const empty = await usageOf(apiKey);
    expect(empty.status).toBe(200);
    expect(empty.body.totals).toEqual(zero);

    const accepted = await uploadOf(apiKey, 'twelve bytes', 'and twenty-one bytes.');
    expect(accepted.status).toBe(202);
    await process(tenantId, accepted.body.documents[0]!.id, [2, 3]);
    await process(tenantId, accepted.body.documents[1]!.id);

    const now = new Date();
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const totals = {
      ...zero,
      documents: 2,
      storageBytes: 33,
      pagesParsed: 6,
      pagesOcr: 2,
      chunksEmbedded: 2,
      embeddingTokens: 5,
    };
    const month = await usageOf(apiKey);
    expect(month.status).toBe(200);
    expect(month.body).toEqual({
      from: monthStart.toISOString(),
      to: expect.any(String) as unknown,
      groupBy: 'none',
      totals,
      quotas: {
        periodStart: monthStart.toISOString(),
        periodEnd: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString(),
        pagesPerMonth: { limit: null, used: 6 },
        embeddingTokensPerMonth: { limit: TOKENS_PER_MONTH, used: 5 },
      },
    });

    const from = new Date(Date.now() - 2 * 24 * 3600 * 1000).toISOString().slice(0, 10);
    const byDay = await usageOf(apiKey, {
      from,
      to: new Date(Date.now() + 60_000).toISOString(),
      groupBy: 'day',
    });
    expect(byDay.status).toBe(200);
    expect(byDay.body.totals).toEqual(totals);
    expect(byDay.body.days).toHaveLength(3);
    expect(byDay.body.days?.[2]).toEqual({ day: today(), ...totals });
    expect(byDay.body.days?.slice(0, 2).map(({ day: _day, ...t }) => t)).toEqual([zero, zero]);

    // A range that ended before the work was done shows none of it.
    const before = await usageOf(apiKey, { from, to: new Date(Date.now() - 3600_000).toISOString() });
    expect(before.body.totals).toEqual(zero);
  });

  it("never shows one tenant another's usage", async () => {
    const a = await h.createTenant('usage-tenant-a');
    const b = await h.createTenant('usage-tenant-b');
    const accepted = await uploadOf(a.apiKey, 'tenant a bytes');
    await process(a.tenantId, accepted.body.documents[0]!.id);
    expect((await usageOf(a.apiKey)).body.totals).toMatchObject({ documents: 1, pagesParsed: 3 });

    const seenByB = await usageOf(b.apiKey);
    expect(seenByB.status).toBe(200);
    expect(seenByB.body.totals).toEqual(zero);
    expect(seenByB.body.quotas.pagesPerMonth.used).toBe(0);
    // There is no way to name another tenant.
    const named = await usageOf(b.apiKey, { tenantId: a.tenantId });
    expect([named.status, named.body.code]).toEqual([400, 'validation_failed']);
  });

  it('refuses malformed dates, from after to, a range over 366 days and unknown groupings', async () => {
    const queries: Record<string, string>[] = [
      { from: 'last-tuesday' },
      { to: '2026-02-30' },
      { from: '2026-12-02', to: '2026-12-01' },
      { from: '2025-01-01', to: '2026-06-01' },
      { groupBy: 'hour' },
    ];
    for (const query of queries) {
      const res = await usageOf(h.apiKey, query);
      expect({ query, status: res.status, code: res.body.code }).toEqual({
        query,
        status: 400,
        code: 'validation_failed',
      });
    }
  });

  it('needs an API key', async () => {
    const res = await h.request<ErrorBody>('GET', '/v1/usage', { apiKey: null });
    expect([res.status, res.body.code]).toEqual([401, 'unauthorized']);
  });
});

describe('quotas', () => {
  /** What an accepted request would have left behind: rows, stored blobs, object-store messages (orphans too). */
  async function footprint(tenantId: string) {
    return {
      jobs: await h.count('jobs', tenantId),
      documents: await h.count('documents', tenantId),
      outbox: await h.count('outbox', tenantId),
      blobs: (await h.blobNames()).filter((k) => k.startsWith(`${tenantId}/`)).sort(),
      objectStoreMessages: await h.objectStoreMessages(),
    };
  }

  function expectRefused(
    res: { status: number; headers: Record<string, unknown>; body: ErrorBody },
    quota: string,
  ) {
    expect([res.status, res.body.code]).toEqual([429, 'quota_exceeded']);
    const now = new Date();
    const reset = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    expect(res.body.message).toContain(`quota ${quota} exceeded`);
    expect(res.body.message).toContain(`resets at ${reset.toISOString()}`);
    expect(res.body).toMatchObject({ quota, resetsAt: reset.toISOString() });
    const retryAfter = Number(res.headers['retry-after']);
    const untilReset = (reset.getTime() - now.getTime()) / 1000;
    expect(retryAfter).toBeGreaterThan(untilReset - 60);
    expect(retryAfter).toBeLessThanOrEqual(Math.ceil(untilReset) + 1);
  }

  it("refuses a tenant's new uploads once its own page quota is used up, before storing a byte", async () => {
    const { apiKey, tenantId } = await h.createTenant('quota-pages');
    await h.pg.query('UPDATE tenants SET quota_pages_per_month = 3 WHERE id = $1', [tenantId]);
    const first = await uploadOf(apiKey, 'under the quota');
    expect(first.status).toBe(202);
    // Accepted while under the quota: the work it brought may take the use to the limit (or past it).
    await process(tenantId, first.body.documents[0]!.id);

    const before = await footprint(tenantId);
    const refused = await uploadOf(apiKey, 'x'.repeat(200_000), 'one more file');
    expectRefused(refused, 'pages_per_month');
    expect(refused.body).toMatchObject({ limit: 3, used: 3 });
    const byUrl = await h.request<ErrorBody>('POST', '/v1/documents', {
      apiKey,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ urls: ['https://example.com/a.html'] }),
    });
    expectRefused(byUrl, 'pages_per_month');
    const analysis = await h.request<ErrorBody>('POST', '/v1/analyses', {
      apiKey,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ type: 'answer', question: 'what is due?' }),
    });
    expectRefused(analysis, 'pages_per_month');
    const reindex = await h.request<ErrorBody>('POST', '/v1/reindex', {
      apiKey,
      headers: { 'content-type': 'application/json' },
      payload: '{}',
    });
    expectRefused(reindex, 'pages_per_month');
    expect(await footprint(tenantId)).toEqual(before);

    // Reading is not new work, and another tenant's quota is its own.
    expect((await usageOf(apiKey)).body.quotas.pagesPerMonth).toEqual({ limit: 3, used: 3 });
    const other = await h.createTenant('quota-pages-other');
    expect((await uploadOf(other.apiKey, 'another tenant')).status).toBe(202);
    // Raised, the quota lets work in again.
    await h.pg.query('UPDATE tenants SET quota_pages_per_month = 100 WHERE id = $1', [tenantId]);
    expect((await uploadOf(apiKey, 'after the raise')).status).toBe(202);
  });

  it("applies the deployment's quota unless the tenant's own says otherwise (0: none)", async () => {
    const { apiKey, tenantId } = await h.createTenant('quota-tokens');
    const accepted = await uploadOf(apiKey, 'embedded up to the quota');
    await process(tenantId, accepted.body.documents[0]!.id, [6, 6, 6]);

    const before = await footprint(tenantId);
    expectRefused(await uploadOf(apiKey, 'refused'), 'embedding_tokens_per_month');
    expect(await footprint(tenantId)).toEqual(before);

    await h.pg.query('UPDATE tenants SET quota_embedding_tokens_per_month = 0 WHERE id = $1', [tenantId]);
    expect((await uploadOf(apiKey, 'no quota for this tenant')).status).toBe(202);
  });

  it("refuses a crawler's pages past the quota but lets the crawl end", async () => {
    const { apiKey, tenantId } = await h.createTenant('quota-crawl');
    await h.pg.query('UPDATE tenants SET quota_pages_per_month = 3 WHERE id = $1', [tenantId]);
    const crawlId = randomUUID();
    const deliver = (body: Record<string, unknown>) => {
      const raw = JSON.stringify({ success: true, id: crawlId, webhookId: randomUUID(), ...body });
      return h.request<ErrorBody & { documents?: number }>('POST', '/v1/ingest/firecrawl', {
        apiKey,
        headers: {
          'content-type': 'application/json',
          'x-firecrawl-signature': `sha256=${createHmac('sha256', FIRECRAWL_SECRET).update(raw).digest('hex')}`,
        },
        payload: raw,
      });
    };
    const page = (url: string) => ({
      type: 'crawl.page',
      data: [{ markdown: `# ${url}\n\ntext`, metadata: { sourceURL: url, title: url, statusCode: 200 } }],
    });
    const first = await deliver(page('https://example.com/one'));
    expect([first.status, first.body.documents]).toEqual([200, 1]);
    const [doc] = (
      await h.pg.query<{ id: string }>('SELECT id FROM documents WHERE tenant_id = $1', [tenantId])
    ).rows;
    await process(tenantId, doc!.id);

    const before = await footprint(tenantId);
    expectRefused(await deliver(page('https://example.com/two')), 'pages_per_month');
    expect(await footprint(tenantId)).toEqual(before);
    const completed = await deliver({ type: 'crawl.completed', data: [] });
    expect(completed.status).toBe(200);
  });
});
