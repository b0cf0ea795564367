import { topology, type SearchFilter } from '@quarry/contracts';
import { findMigrationsDir, runMigrations } from '@quarry/migrations';
import { createEmptyDatabase, type TestDatabase } from '@quarry/test-kit';
import { createPrismaClient, type PrismaClient } from '../prisma';
import { indexTestDocument } from './__fixtures__/index-document';
import { createSearchPrismaClient, HNSW_EF_SEARCH, type SearchPrismaClient } from './search-client';
import { ChunksRepository, type ChunkSearch } from './chunks.repository';
import { TenantsRepository } from './jobs.repository';

// Hybrid search over chunks stored by the real step repositories: PostgreSQL full text with each document's
// text-search configuration, pgvector, reciprocal rank fusion, filters inside the statement, highlights, paging.

const topo = topology('qt_search');
const X4 = { id: 'model-x', dim: 4 };
const OTHER = { id: 'model-other', dim: 4 };

let db: TestDatabase | undefined;
let prisma: PrismaClient;
let searchClient: SearchPrismaClient;
let chunks: ChunksRepository;
let tenant: string;
let otherTenant: string;
const docs: Record<string, { id: string; jobId: string }> = {};

function vec(...head: number[]): Float32Array {
  const v = new Float32Array(4);
  head.forEach((x, i) => (v[i] = x));
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

interface DocSpec {
  tenantId: string;
  name: string;
  filename: string;
  config: string;
  model?: { id: string; dim: number };
  detectedType?: 'pdf' | 'text';
  tags?: string[];
  metadata?: Record<string, unknown>;
  sections?: { offset: number; path: string[] }[];
  chunks: { text: string; vector: Float32Array }[];
}

async function indexDocument(spec: DocSpec): Promise<void> {
  const { name, config, model, ...doc } = spec;
  const { documentId, jobId } = await indexTestDocument(prisma, topo, {
    ...doc,
    model: model ?? X4,
    text: { language: config === 'simple' ? null : config.slice(0, 3), config },
  });
  docs[name] = { id: documentId, jobId };
}

const search = (over: Partial<ChunkSearch> & { query: string }) =>
  chunks.search({
    tenantId: tenant,
    mode: 'hybrid',
    model: X4,
    topK: 10,
    offset: 0,
    vector: vec(1),
    ...over,
  });
const texts = async (over: Partial<ChunkSearch> & { query: string }) =>
  (await search(over)).hits.map((h) => h.text);

beforeAll(async () => {
  db = await createEmptyDatabase('search', { create: false });
  await runMigrations({ databaseUrl: db.url, migrationsDir: findMigrationsDir(__dirname) });
  prisma = createPrismaClient({ databaseUrl: db.url, poolMax: 4 });
  searchClient = createSearchPrismaClient({ databaseUrl: db.url, poolMax: 4 });
  chunks = new ChunksRepository(searchClient);
  const tenants = new TenantsRepository(prisma);
  tenant = (await tenants.ensureTenantWithKey('search-a', 'key-search-a-0123')).tenantId;
  otherTenant = (await tenants.ensureTenantWithKey('search-b', 'key-search-b-0123')).tenantId;

  await indexDocument({
    tenantId: tenant,
    name: 'invoice',
    filename: 'invoices/march-2026.pdf',
    config: 'english',
    detectedType: 'pdf',
    tags: ['finance', '2026'],
    metadata: { department: 'accounts', year: 2026 },
    sections: [{ offset: 0, path: ['Invoices', 'March'] }],
    chunks: [
      { text: 'Invoice INV-20931 was paid by the harbour authority.', vector: vec(0, 1) },
      { text: 'Late fees apply to invoices paid after thirty days.', vector: vec(0, 0, 1) },
    ],
  });
  await indexDocument({
    tenantId: tenant,
    name: 'birds',
    filename: 'notes/birds.txt',
    config: 'english',
    tags: ['nature'],
    metadata: { department: 'research', year: 2025 },
    chunks: [
      { text: 'Arctic terns are migrating between the poles every year.', vector: vec(1, 0.05) },
      { text: 'The quarry keeps granite blocks for the harbour wall.', vector: vec(0.8, 0.6) },
    ],
  });
  await indexDocument({
    tenantId: tenant,
    name: 'german',
    filename: 'de/rechnungen.txt',
    config: 'german',
    tags: ['finance'],
    metadata: { department: 'accounts', year: 2024 },
    chunks: [{ text: 'Die Rechnungen des Hafens wurden pünktlich bezahlt.', vector: vec(0, 0, 0, 1) }],
  });
  await indexDocument({
    tenantId: tenant,
    name: 'code',
    filename: 'src/parser.ts',
    config: 'simple',
    chunks: [{ text: 'function parseInvoiceTotal(lines) returns the sum of amounts', vector: vec(-1) }],
  });
  // Same words, other model and other tenant: never returned.
  await indexDocument({
    tenantId: tenant,
    name: 'other-model',
    filename: 'other.txt',
    config: 'english',
    model: OTHER,
    chunks: [{ text: 'Invoice INV-20931 copy embedded by another model.', vector: vec(1) }],
  });
  await indexDocument({
    tenantId: otherTenant,
    name: 'other-tenant',
    filename: 'theirs.txt',
    config: 'english',
    chunks: [{ text: 'Invoice INV-20931 of another tenant.', vector: vec(1) }],
  });
});

afterAll(async () => {
  await searchClient?.$disconnect();
  await prisma?.$disconnect();
  await db?.drop();
});

describe('the search pool', () => {
  it('starts every session with the search settings, which the process’s other pool never gets', async () => {
    const settings = (client: PrismaClient) => client.$queryRaw<Record<string, string>[]>`
      SELECT current_setting('enable_seqscan') AS seqscan, current_setting('enable_sort') AS sort,
             current_setting('jit') AS jit, '[1]'::vector::text AS loaded,
             current_setting('hnsw.ef_search') AS ef, current_setting('hnsw.iterative_scan') AS iterative`;
    // pgvector defines its settings when it loads, from the placeholders the session started with.
    expect(await settings(searchClient)).toEqual([
      {
        seqscan: 'off',
        sort: 'off',
        jit: 'off',
        loaded: '[1]',
        ef: String(HNSW_EF_SEARCH),
        iterative: 'relaxed_order',
      },
    ]);
    const [other] = await settings(prisma);
    expect([other?.seqscan, other?.sort]).toEqual(['on', 'on']);
  });
});

describe('ChunksRepository.search: keyword', () => {
  it('ranks the chunk with an exact identifier first and highlights it', async () => {
    const { hits } = await search({ mode: 'keyword', query: 'INV-20931' });
    expect(hits.map((h) => h.text)).toEqual(['Invoice INV-20931 was paid by the harbour authority.']);
    const [hit] = hits;
    expect(hit?.vectorScore).toBeNull();
    expect(hit?.keywordScore).toBeGreaterThan(0);
    expect(hit?.highlights.map((s) => hit.text.slice(s.start, s.end))).toEqual(['INV-20931']);
    expect(hit?.sectionPath).toEqual(['Invoices', 'March']);
  });

  it('finds a function name in a chunk indexed without a stemmer', async () => {
    expect(await texts({ mode: 'keyword', query: 'parseInvoiceTotal' })).toEqual([
      'function parseInvoiceTotal(lines) returns the sum of amounts',
    ]);
  });

  it('matches stems in each document’s own language', async () => {
    expect(await texts({ mode: 'keyword', query: 'terns migrate' })).toEqual([
      'Arctic terns are migrating between the poles every year.',
    ]);
    expect(await texts({ mode: 'keyword', query: 'Rechnung' })).toEqual([
      'Die Rechnungen des Hafens wurden pünktlich bezahlt.',
    ]);
  });

  it('matches any word of a plain question, best covered first', async () => {
    const found = await texts({ mode: 'keyword', query: 'which invoices were paid by the harbour?' });
    expect(found[0]).toBe('Invoice INV-20931 was paid by the harbour authority.');
    expect(found).toContain('Late fees apply to invoices paid after thirty days.');
  });

  it('takes operators literally: a quoted phrase, an excluded word', async () => {
    expect(await texts({ mode: 'keyword', query: '"granite blocks"' })).toEqual([
      'The quarry keeps granite blocks for the harbour wall.',
    ]);
    expect(await texts({ mode: 'keyword', query: 'harbour -granite' })).toEqual([
      'Invoice INV-20931 was paid by the harbour authority.',
    ]);
  });

  it('drops stop words in each document’s language, and keeps them where no stemmer applies', async () => {
    // Only the chunk indexed 'simple' (code, no language) has words to match; the English ones have none left.
    expect(await texts({ mode: 'keyword', query: 'the of and' })).toEqual([
      'function parseInvoiceTotal(lines) returns the sum of amounts',
    ]);
  });
});

describe('ChunksRepository.search: vector and hybrid', () => {
  it('vector mode ranks by cosine similarity and reports no keyword score', async () => {
    const { hits } = await search({ mode: 'vector', query: 'anything', vector: vec(1), topK: 2 });
    expect(hits.map((h) => h.text)).toEqual([
      'Arctic terns are migrating between the poles every year.',
      'The quarry keeps granite blocks for the harbour wall.',
    ]);
    expect(hits[0]?.vectorScore).toBeCloseTo(0.9988, 3);
    expect(hits[0]?.keywordScore).toBeNull();
  });

  it('hybrid fuses both rankings: agreement wins, and each score says where it came from', async () => {
    // The vector points at the birds chunk; the words point at the invoice chunk; the quarry chunk is second in
    // both and so first fused.
    const { hits } = await search({ query: 'harbour granite', vector: vec(1, 0.7) });
    expect(hits[0]?.text).toBe('The quarry keeps granite blocks for the harbour wall.');
    expect(hits[0]?.vectorScore).not.toBeNull();
    expect(hits[0]?.keywordScore).not.toBeNull();
    const vectorOnly = hits.find((h) => h.text.startsWith('Arctic'));
    expect(vectorOnly?.keywordScore).toBeNull();
    expect(vectorOnly?.highlights).toEqual([]);
    for (let i = 1; i < hits.length; i++)
      expect(hits[i - 1]?.score).toBeGreaterThanOrEqual(hits[i]?.score ?? 0);
  });

  it('never returns another model’s or another tenant’s chunks', async () => {
    const { hits } = await search({ query: 'INV-20931 invoice', vector: vec(1) });
    const ids = new Set(hits.map((h) => h.documentId));
    expect(ids.has(docs['other-model']?.id ?? '')).toBe(false);
    expect(ids.has(docs['other-tenant']?.id ?? '')).toBe(false);
  });

  it('pages through the ranking and says when more follow', async () => {
    const all = await search({ query: 'harbour invoice quarry', topK: 10 });
    const first = await search({ query: 'harbour invoice quarry', topK: 2 });
    const second = await search({ query: 'harbour invoice quarry', topK: 2, offset: 2 });
    expect(first.more).toBe(true);
    expect([...first.hits, ...second.hits].map((h) => h.chunkId)).toEqual(
      all.hits.slice(0, 4).map((h) => h.chunkId),
    );
    expect(all.more).toBe(false);
  });
});

describe('ChunksRepository.search: filters inside the ranking', () => {
  const only = async (filter: SearchFilter, query = 'invoice harbour Rechnung terns parseInvoiceTotal') =>
    new Set(
      (await search({ query, filter, topK: 20 })).hits.map(
        (h) => Object.entries(docs).find(([, d]) => d.id === h.documentId)?.[0],
      ),
    );

  it('by tags (every one), metadata equality and in, filename glob, type, ids and creation time', async () => {
    expect(await only({ tags: ['finance'] })).toEqual(new Set(['invoice', 'german']));
    expect(await only({ tags: ['finance', '2026'] })).toEqual(new Set(['invoice']));
    expect(await only({ metadata: { department: 'accounts' } })).toEqual(new Set(['invoice', 'german']));
    expect(await only({ metadata: { department: 'accounts', year: 2024 } })).toEqual(new Set(['german']));
    expect(await only({ metadata: { year: { in: [2025, 2026] } } })).toEqual(new Set(['invoice', 'birds']));
    expect(await only({ filename: 'invoices/*.pdf' })).toEqual(new Set(['invoice']));
    expect(await only({ filename: '*.t?t' })).toEqual(new Set(['birds', 'german']));
    expect(await only({ detectedTypes: ['pdf'] })).toEqual(new Set(['invoice']));
    expect(await only({ documentIds: [docs['code']?.id ?? ''] })).toEqual(new Set(['code']));
    expect(await only({ jobIds: [docs['birds']?.jobId ?? ''] })).toEqual(new Set(['birds']));
    expect(await only({ createdAfter: new Date(Date.now() + 60_000).toISOString() })).toEqual(new Set());
    expect(
      await only({ createdBefore: new Date(Date.now() + 60_000).toISOString(), tags: ['nature'] }),
    ).toEqual(new Set(['birds']));
  });

  it('returns the best chunk the filter allows, not a filtered top-k', async () => {
    // Unfiltered, the birds chunk is the vector's nearest; top-1 under the filter must still find the code.
    const { hits } = await search({
      mode: 'vector',
      query: 'x',
      vector: vec(1),
      topK: 1,
      filter: { filename: 'src/*' },
    });
    expect(hits.map((h) => h.text)).toEqual(['function parseInvoiceTotal(lines) returns the sum of amounts']);
  });

  it('takes the index scan when the filter leaves most chunks, the exact ranking when it leaves few', async () => {
    // A tenant of its own: 70 chunks in a tagged document, 2 in another. A filter on the tag leaves 70 of 72 chunks
    // (70² > 60 candidates × 72: the HNSW branch, conditions checked on each chunk it yields); one on the small
    // document leaves 2 (the exact branch). Each must give the best chunks the filter allows.
    const many = (await new TenantsRepository(prisma).ensureTenantWithKey('search-c', 'key-search-c-0123'))
      .tenantId;
    await indexDocument({
      tenantId: many,
      name: 'bulk',
      filename: 'bulk.txt',
      config: 'english',
      tags: ['bulk'],
      chunks: Array.from({ length: 70 }, (_, i) => ({
        text: `${i >= 67 ? 'quarry' : 'granite'} block ${i}`,
        vector: vec(1, i / 10),
      })),
    });
    await indexDocument({
      tenantId: many,
      name: 'few',
      filename: 'few.txt',
      config: 'english',
      chunks: [
        { text: 'granite harbour wall', vector: vec(0, 1) },
        { text: 'granite quay', vector: vec(0, 1, 0.1) },
      ],
    });
    for (const mode of ['vector', 'hybrid'] as const) {
      const near = await search({
        tenantId: many,
        mode,
        query: 'quarry',
        vector: vec(0, 1),
        topK: 3,
        filter: { tags: ['bulk'] },
      });
      expect(near.hits.map((h) => h.text)).toEqual(['quarry block 69', 'quarry block 68', 'quarry block 67']);
      const few = await search({
        tenantId: many,
        mode,
        query: 'granite',
        vector: vec(0, 0, 1),
        topK: 3,
        filter: { documentIds: [docs['few']?.id ?? ''] },
      });
      expect(few.hits.map((h) => h.text)).toEqual(['granite quay', 'granite harbour wall']);
    }
  });

  it('treats glob characters and quotes in filters as data', async () => {
    expect(await only({ filename: "%' OR 1=1 --" })).toEqual(new Set());
    expect(await only({ metadata: { department: "accounts' OR '1'='1" } })).toEqual(new Set());
  });
});

describe('chunk ids', () => {
  it('are version 7 UUIDs stamped with the time they were written, so postings are stored in key order', async () => {
    const rows = await prisma.$queryRaw<{ version: string; variant: string; ageMs: number }[]>`
      SELECT substr(id::text, 15, 1) AS version, substr(id::text, 20, 1) AS variant,
             (extract(epoch FROM clock_timestamp()) * 1000
              - ('x' || lpad(replace(substr(id::text, 1, 13), '-', ''), 16, '0'))::bit(64)::bigint)::float8 AS "ageMs"
      FROM chunks WHERE tenant_id = ${tenant}::uuid`;
    expect(rows.length).toBeGreaterThan(3);
    for (const row of rows) {
      expect(row.version).toBe('7');
      expect(['8', '9', 'a', 'b']).toContain(row.variant);
      expect(row.ageMs).toBeGreaterThanOrEqual(0);
      expect(row.ageMs).toBeLessThan(10 * 60_000);
    }
  });
});

describe('the keyword index', () => {
  const counts = async () => {
    const [row] = await prisma.$queryRaw<
      { postings: number; lexemes: number; chunks: number; stats: string }[]
    >`
      SELECT (SELECT count(*)::int FROM chunk_terms WHERE tenant_id = ${tenant}::uuid AND embedding_model = 'model-x')
               AS postings,
             (SELECT coalesce(sum(length(tsv)), 0)::int FROM chunks
               WHERE tenant_id = ${tenant}::uuid AND embedding_model = 'model-x') AS lexemes,
             (SELECT count(*)::int FROM chunks WHERE tenant_id = ${tenant}::uuid AND embedding_model = 'model-x')
               AS chunks,
             (SELECT chunks || '/' || lexemes FROM keyword_stats
               WHERE tenant_id = ${tenant}::uuid AND embedding_model = 'model-x') AS stats`;
    // Every lexeme's document frequency (keyword_lexemes) is the count of its postings, for every tenant and model,
    // and no lexeme without postings keeps a row.
    const [frequencies] = await prisma.$queryRaw<{ wrong: number; lexemes: number }[]>`
      SELECT count(*) FILTER (WHERE f.chunks IS DISTINCT FROM p.n)::int AS wrong, count(f.lexeme)::int AS lexemes
      FROM keyword_lexemes f
      FULL JOIN (SELECT tenant_id, embedding_model, lexeme, count(*)::int AS n FROM chunk_terms GROUP BY 1, 2, 3) p
        ON (p.tenant_id, p.embedding_model, p.lexeme) = (f.tenant_id, f.embedding_model, f.lexeme)`;
    expect(frequencies?.wrong).toBe(0);
    expect(frequencies?.lexemes).toBeGreaterThan(0);
    return row;
  };

  it('holds one posting per chunk and lexeme, and counters that match the chunks, as chunks change and go', async () => {
    const before = await counts();
    expect(before?.postings).toBe(before?.lexemes);
    expect(before?.stats).toBe(`${before?.chunks}/${before?.lexemes}`);

    // A chunk's text rewritten (a re-index of the same ordinal): its postings follow.
    await prisma.$executeRaw`
      UPDATE chunks SET text = 'entirely different words about volcanoes'
      WHERE document_id = ${docs['code']?.id ?? ''}::uuid`;
    const changed = await counts();
    expect(changed?.postings).toBe(changed?.lexemes);
    expect(changed?.stats).toBe(`${changed?.chunks}/${changed?.lexemes}`);
    expect(await texts({ mode: 'keyword', query: 'volcanoes' })).toEqual([
      'entirely different words about volcanoes',
    ]);

    // Chunks moved to another model and back (what the re-embed job does): the frequencies move with them.
    await prisma.$executeRaw`
      UPDATE chunks SET embedding_model = 'model-moved' WHERE document_id = ${docs['birds']?.id ?? ''}::uuid`;
    await counts();
    await prisma.$executeRaw`
      UPDATE chunks SET embedding_model = 'model-x' WHERE document_id = ${docs['birds']?.id ?? ''}::uuid`;
    expect(await counts()).toEqual(changed);

    await prisma.$executeRaw`DELETE FROM chunks WHERE document_id = ${docs['code']?.id ?? ''}::uuid`;
    const after = await counts();
    expect(after?.chunks).toBe((before?.chunks ?? 0) - 1);
    expect(after?.postings).toBe(after?.lexemes);
    expect(after?.stats).toBe(`${after?.chunks}/${after?.lexemes}`);
    expect(await texts({ mode: 'keyword', query: 'volcanoes' })).toEqual([]);
  });
});
