import { TEXT_SEARCH_CONFIGS, topology, type SearchFilter, type SearchMode } from '@quarry/contracts';
import { findMigrationsDir, runMigrations } from '@quarry/migrations';
import { createEmptyDatabase, mulberry32, type TestDatabase } from '@quarry/test-kit';
import { createPrismaClient, type PrismaClient } from '../prisma';
import { indexTestDocument } from './__fixtures__/index-document';
import { createSearchPrismaClient, type SearchPrismaClient } from './search-client';
import { ChunksRepository, type ChunkSearch } from './chunks.repository';
import { TenantsRepository } from './jobs.repository';

// The pruned keyword ranking (ADR 27 §11) against the exhaustive one, over a corpus with a Zipf vocabulary written
// through the worker's write path: for plain queries of common words only, rare and common words, words of one
// topic, with and without filters, paged, in keyword and hybrid mode, the same chunks in the same order with the same
// scores. And it does leave postings unread: a rare word beside a very common one reads a fraction of the postings.

const topo = topology('qt_pruning');
const MODEL = { id: 'model-p', dim: 4 };
const DOCUMENTS = 40;
const CHUNKS_PER_DOCUMENT = 75;
const VOCABULARY = 2000;
const TOPICS = 8;

// mulberry32: the corpus and the queries are the same on every run.
const random = mulberry32(20261206);
const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));

/** Made-up words (letters only, so every configuration keeps them as words), rank 1 the most frequent. */
const words = (() => {
  const syllables = [
    'ka',
    'lo',
    'mi',
    'ter',
    'pu',
    'san',
    'vo',
    'rel',
    'dun',
    'bix',
    'gor',
    'fe',
    'zul',
    'nap',
  ];
  const seen = new Set<string>();
  while (seen.size < VOCABULARY) {
    let w = '';
    for (let s = int(2, 4); s > 0; s--) w += syllables[int(0, syllables.length - 1)];
    seen.add(w);
  }
  return [...seen];
})();
const word = (rank: number) => words[rank - 1] ?? 'x';

/** Zipf (s = 1) over the vocabulary. */
const cumulative = (() => {
  const c: number[] = [];
  let sum = 0;
  for (let r = 1; r <= VOCABULARY; r++) c.push((sum += 1 / r));
  return c.map((v) => v / sum);
})();
function zipfRank(): number {
  const u = random();
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((cumulative[mid] ?? 1) < u) lo = mid + 1;
    else hi = mid;
  }
  return lo + 1;
}
/** Each topic's own words (ranks 30–400), which its chunks use more often. */
const topicWords = Array.from({ length: TOPICS }, () => Array.from({ length: 12 }, () => int(30, 400)));

function chunkText(topic: number): string {
  const own = topicWords[topic] ?? [];
  const n = int(15, 60);
  const out: string[] = [];
  for (let i = 0; i < n; i++)
    out.push(word(random() < 0.2 ? (own[int(0, own.length - 1)] ?? 1) : zipfRank()));
  return out.join(' ');
}

function vector(): Float32Array {
  const v = Float32Array.from({ length: 4 }, () => random() * 2 - 1);
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

let db: TestDatabase | undefined;
let prisma: PrismaClient;
/** One connection, so the postings a search read can be read from that backend's statistics. */
let single: SearchPrismaClient;
let tenant: string;
const documentIds: string[] = [];

async function indexDocument(tenantId: string, d: number): Promise<void> {
  const topic = d % TOPICS;
  // Every text first, then every vector: the generator's draws in the order the corpus was first made with.
  const texts = Array.from({ length: CHUNKS_PER_DOCUMENT }, () => chunkText(topic));
  const { documentId } = await indexTestDocument(prisma, topo, {
    tenantId,
    filename: `corpus/${d}.txt`,
    model: MODEL,
    // A tenth of the documents in English (stemmed), the rest without a language.
    text: d % 10 === 3 ? { language: 'eng', config: 'english' } : { language: null, config: 'simple' },
    tags: [`topic-${topic}`, ...(d % 3 === 0 ? ['third'] : [])],
    metadata: { shelf: d % 5 },
    chunks: texts.map((text) => ({ text, vector: vector() })),
  });
  documentIds.push(documentId);
}

beforeAll(async () => {
  db = await createEmptyDatabase('pruning', { create: false });
  await runMigrations({ databaseUrl: db.url, migrationsDir: findMigrationsDir(__dirname) });
  prisma = createPrismaClient({ databaseUrl: db.url, poolMax: 4 });
  single = createSearchPrismaClient({ databaseUrl: db.url, poolMax: 1 });
  tenant = (await new TenantsRepository(prisma).ensureTenantWithKey('pruning-a', 'key-pruning-a-0123'))
    .tenantId;
  for (let d = 0; d < DOCUMENTS; d++) await indexDocument(tenant, d);
}, 120_000);

afterAll(async () => {
  await single?.$disconnect();
  await prisma?.$disconnect();
  await db?.drop();
});

interface Case {
  query: string;
  filter?: SearchFilter;
}

/** Plain queries of every kind the pruning meets, and some it leaves to the exhaustive ranking. */
function cases(): Case[] {
  const out: Case[] = [
    // A rare word beside very common ones: the common ones' postings are only looked up.
    { query: `${word(40)} ${word(1)}` },
    { query: `${word(25)} ${word(5)} ${word(2)}` },
    // Common enough that theta stays under the other's bound: read after all.
    { query: `${word(30)} ${word(10)}` },
    // Common words only, of similar frequency: nothing to leave out.
    { query: `${word(1)} ${word(2)} ${word(3)}` },
    { query: `${word(5)} ${word(6)}` },
    // One word; a word no chunk has; fewer chunks than the top asks for.
    { query: word(7) },
    { query: `${word(1)} zzzqqqx` },
    { query: `${word(1500)} ${word(1)}` },
  ];
  for (let t = 0; t < TOPICS; t++) {
    const own = topicWords[t] ?? [];
    out.push({ query: `${word(own[0] ?? 1)} ${word(own[1] ?? 1)} ${word(int(1, 4))}` });
  }
  for (let i = 0; i < 40; i++) {
    const n = int(1, 4);
    const q: string[] = [];
    for (let j = 0; j < n; j++) {
      const kind = random();
      q.push(word(kind < 0.35 ? int(1, 8) : kind < 0.8 ? int(9, 200) : int(201, VOCABULARY)));
    }
    out.push({ query: q.join(' ') });
  }
  // Filters and operators: the exhaustive ranking either way, compared all the same.
  out.push({ query: `${word(40)} ${word(1)}`, filter: { tags: ['third'] } });
  out.push({ query: `${word(40)} ${word(3)}`, filter: { metadata: { shelf: 2 } } });
  out.push({ query: `${word(30)} ${word(2)}`, filter: { documentIds: documentIds.slice(0, 3) } });
  out.push({ query: `"${word(1)} ${word(2)}" ${word(50)}` });
  out.push({ query: `${word(1)} -${word(2)}` });
  return out;
}

const PAGES: { topK: number; offset: number }[] = [
  { topK: 10, offset: 0 },
  { topK: 10, offset: 40 },
  { topK: 25, offset: 150 },
  { topK: 50, offset: 0 },
];

/** Index entries of chunk_terms read so far by the one connection's searches (its statistics, flushed on demand). */
async function postingsRead(): Promise<number> {
  await single.$queryRaw`SELECT 1 FROM pg_stat_force_next_flush()`;
  const [row] = await single.$queryRaw<{ n: bigint }[]>`
    SELECT idx_tup_read AS n FROM pg_stat_user_indexes WHERE indexrelname = 'chunk_terms_pkey'`;
  return Number(row?.n ?? 0);
}

/** A search through the one connection, and the postings it read. */
async function measured(s: ChunkSearch) {
  const before = await postingsRead();
  const result = await new ChunksRepository(single).search(s);
  return { ...result, read: (await postingsRead()) - before };
}

async function both(over: Omit<ChunkSearch, 'tenantId' | 'model'>) {
  const s: ChunkSearch = { tenantId: tenant, model: MODEL, ...over };
  return {
    // Whole, whatever the query's postings, so the pruning is what is compared here.
    pruned: await measured({ ...s, splitFromPostings: Number.MAX_SAFE_INTEGER }),
    // The same ranking in two halves by chunk id, whatever the query's postings (ADR 27 §13).
    halves: await measured({ ...s, splitFromPostings: 0 }),
    exhaustive: await measured({ ...s, exhaustive: true }),
  };
}

describe('the pruned keyword ranking', () => {
  it('gives the exhaustive ranking’s chunks, order and scores for every query, page and mode, whole or in halves', async () => {
    const query = vector();
    let compared = 0;
    let lessRead = 0;
    for (const c of cases())
      for (const mode of ['keyword', 'hybrid'] as SearchMode[])
        for (const page of PAGES) {
          const { pruned, halves, exhaustive } = await both({
            mode,
            query: c.query,
            vector: query,
            ...(c.filter ? { filter: c.filter } : {}),
            ...page,
          });
          const label = `${mode} ${JSON.stringify(c)} ${JSON.stringify(page)}`;
          expect([label, pruned.hits.map((h) => h.chunkId), pruned.more]).toEqual([
            label,
            exhaustive.hits.map((h) => h.chunkId),
            exhaustive.more,
          ]);
          expect([label, halves.hits.map((h) => h.chunkId), halves.more]).toEqual([
            label,
            exhaustive.hits.map((h) => h.chunkId),
            exhaustive.more,
          ]);
          for (const ranking of [pruned, halves])
            ranking.hits.forEach((h, i) => {
              const e = exhaustive.hits[i];
              expect(Math.abs(h.score - (e?.score ?? NaN))).toBeLessThan(1e-9);
              expect(Math.abs((h.keywordScore ?? -1) - (e?.keywordScore ?? -1))).toBeLessThan(1e-9);
            });
          compared++;
          if (pruned.read < exhaustive.read) lessRead++;
          expect(pruned.read).toBeLessThanOrEqual(exhaustive.read);
        }
    expect(compared).toBe(cases().length * 2 * PAGES.length);
    // The comparison covers the pruning, not only the cases that read every posting anyway.
    expect(lessRead).toBeGreaterThan(compared / 10);
  });

  it('finds the queries’ chunks at all (the comparison is not between two empty lists)', async () => {
    const { pruned } = await both({ mode: 'keyword', query: `${word(40)} ${word(1)}`, topK: 50, offset: 0 });
    expect(pruned.hits).toHaveLength(50);
    expect(pruned.more).toBe(true);
  });

  it('leaves a very common word’s postings unread beside a rare one, and reads them where it must', async () => {
    // The postings of a query's terms: its lexemes under every configuration, as the search parses it.
    const postings = async (query: string) => {
      const [row] = await prisma.$queryRaw<{ n: bigint }[]>`
        SELECT count(*) AS n FROM chunk_terms
        WHERE tenant_id = ${tenant}::uuid AND embedding_model = ${MODEL.id}
          AND lexeme IN (SELECT t.lexeme FROM unnest(${[...TEXT_SEARCH_CONFIGS]}::regconfig[]) AS cfg,
                                              unnest(to_tsvector(cfg, ${query})) AS t)`;
      return Number(row?.n ?? 0);
    };
    const s = (query: string): ChunkSearch => ({
      tenantId: tenant,
      model: MODEL,
      mode: 'keyword',
      query,
      topK: 10,
      offset: 0,
    });

    const rareAndCommon = `${word(40)} ${word(1)}`;
    const all = await postings(rareAndCommon);
    expect((await measured({ ...s(rareAndCommon), exhaustive: true })).read).toBe(all);
    // The rare word's postings, and the common word's for those chunks only.
    const rare = await postings(word(40));
    expect(rare).toBeGreaterThan(180);
    expect(all).toBeGreaterThan(8 * rare);
    const pruned = (await measured(s(rareAndCommon))).read;
    expect(pruned).toBeGreaterThanOrEqual(rare);
    expect(pruned).toBeLessThan(all / 3);
    // Two common words of about the same frequency: both read in full.
    const similar = `${word(5)} ${word(6)}`;
    expect((await measured(s(similar))).read).toBe(await postings(similar));
  });
});
