// Search at scale, right after a bulk ingest: 100,000 chunks of one tenant (and a second, smaller tenant beside them)
// written through the analysis worker's write path (IndexingRepository.completeIndexing, whose statement-level
// triggers keep the BM25 postings), then searched through ChunksRepository.search, the call the worker makes,
// before any ANALYZE: autovacuum is off on every table of the database, so the planner has no statistics. The same
// queries again after ANALYZE for comparison. Vector recall@10 against an exact search over the generated vectors.
import { TEXT_SEARCH_CONFIGS, topology, uuidv7, type SearchFilter, type SearchMode } from '@quarry/contracts';
import {
  ChunksRepository,
  createPrismaClient,
  createSearchPrismaClient,
  ExtractionRepository,
  IndexingRepository,
  JobsRepository,
  TenantsRepository,
  type AfterCommit,
  type ChunkInput,
  type NewIngestJob,
  type PageInput,
  type PrismaClient,
  type SearchPrismaClient,
} from '@quarry/persistence';
import type { Logger } from '@quarry/telemetry';
import { createTestDatabase, withClient, type TestDatabase } from '@quarry/testing';
import { mulberry32 } from '@quarry/test-kit';
import { createHash } from 'node:crypto';
import { PerformanceObserver } from 'node:perf_hooks';
import type { BenchOptions } from './args';
import { indexCommandRow } from './pipeline';
import { summarize, type LatencySummary } from './stats';

/**
 * The local embedding model's id and dimension (LocalUseEmbeddingProvider: `use-lite-512`, 512), which the analysis
 * worker stores and searches its chunks under. Named here rather than read from a provider instance, which would
 * load the model into a worker thread for two constants.
 */
export const SEARCH_MODEL = { id: 'use-lite-512', dim: 512 } as const;

export const SEARCH_TARGETS = { hybridP99Ms: 20, vectorRecallAt10: 0.95 } as const;

/** Documents written per completeIndexing batch: about 1,000 chunks per statement, as a busy worker batches. */
const GROUP_DOCUMENTS = 20;
/** Groups written at once, as by that many analysis workers. */
const WRITERS = 2;
const TOPICS = 100;
const CONTENT_WORDS = 30_000;
const TOPIC_WORDS = 40;
const TAGS = Array.from({ length: 20 }, (_, i) => `tag-${String(i).padStart(2, '0')}`);
const DEPARTMENTS = ['legal', 'finance', 'sales', 'support', 'research', 'ops', 'hr', 'it', 'audit', 'press'];
const ID_PREFIXES = ['INV', 'PO', 'CASE', 'TKT', 'REQ', 'SKU', 'CR', 'DOC'];
/**
 * The most frequent words of English, at the head of the Zipf ranking as they are in English text. The chunks are
 * indexed with the `english` configuration (as the worker indexes a document detected as English), which drops
 * them as stop words, as it drops them from real text.
 */
const FUNCTION_WORDS = [
  'the', 'of', 'and', 'to', 'a', 'in', 'is', 'that', 'for', 'it', 'as', 'was', 'with', 'be', 'by', 'on', 'not',
  'this', 'are', 'or', 'from', 'at', 'which', 'but', 'have', 'an', 'they', 'were', 'their', 'has', 'been', 'its',
  'more', 'can', 'will', 'these', 'other', 'into', 'than', 'all',
]; // prettier-ignore

const round4 = (v: number) => Math.round(v * 10_000) / 10_000;

/** A seeded generator (mulberry32) with the draws the corpus needs. */
class Random {
  private readonly draw: () => number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.draw = mulberry32(seed);
  }

  next(): number {
    return this.draw();
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  gaussian(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

function normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = Math.sqrt(sum) || 1;
  for (let i = 0; i < v.length; i++) v[i] = (v[i] ?? 0) / norm;
  return v;
}

/** `base` plus isotropic Gaussian noise of about `noise` in length, L2-normalised. */
function around(rng: Random, base: Float32Array, noise: number): Float32Array {
  const sigma = noise / Math.sqrt(base.length);
  const v = new Float32Array(base.length);
  for (let i = 0; i < v.length; i++) v[i] = (base[i] ?? 0) + sigma * rng.gaussian();
  return normalize(v);
}

/** The corpus's vocabulary: English function words at the head, then pronounceable made-up words, Zipf (s = 1). */
class Vocabulary {
  readonly words: string[];
  private readonly cumulative: Float64Array;
  /** Each topic's own words (mid-frequency content words), which its chunks and queries use more often. */
  readonly topicWords: string[][];

  constructor(rng: Random) {
    const onsets = [
      'b',
      'c',
      'd',
      'f',
      'g',
      'k',
      'l',
      'm',
      'n',
      'p',
      'r',
      's',
      't',
      'v',
      'z',
      'br',
      'st',
      'tr',
    ];
    const vowels = ['a', 'e', 'i', 'o', 'u', 'ai', 'ou'];
    const codas = ['', '', 'n', 'r', 'l', 's', 'x', 'm'];
    const seen = new Set(FUNCTION_WORDS);
    const content: string[] = [];
    while (content.length < CONTENT_WORDS) {
      let w = '';
      for (let s = rng.int(2, 4); s > 0; s--) w += rng.pick(onsets) + rng.pick(vowels) + rng.pick(codas);
      if (!seen.has(w)) {
        seen.add(w);
        content.push(w);
      }
    }
    this.words = [...FUNCTION_WORDS, ...content];
    this.cumulative = new Float64Array(this.words.length);
    let sum = 0;
    for (let r = 0; r < this.words.length; r++) this.cumulative[r] = sum += 1 / (r + 1);
    for (let r = 0; r < this.words.length; r++) this.cumulative[r] = (this.cumulative[r] ?? 0) / sum;
    this.topicWords = Array.from({ length: TOPICS }, () =>
      Array.from({ length: TOPIC_WORDS }, () => content[rng.int(200, 5000)] ?? 'x'),
    );
  }

  /** A word drawn by its Zipf probability. */
  zipf(rng: Random): string {
    const u = rng.next();
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.cumulative[mid] ?? 1) < u) lo = mid + 1;
      else hi = mid;
    }
    return this.words[lo] ?? 'x';
  }

  /** A content word (no function word) drawn by its Zipf rank among the content words. */
  contentWord(rng: Random): string {
    for (;;) {
      const w = this.zipf(rng);
      if (!FUNCTION_WORDS.includes(w)) return w;
    }
  }
}

interface GeneratedDocument {
  id: string;
  tenant: 'a' | 'b';
  topic: number;
  chunkCount: number;
  tags: string[];
  metadata: { dept: string; year: number };
  identifiers: string[];
  /** Index of the document's first chunk in the tenant's vector store. */
  firstChunk: number;
}

/** Every chunk vector of a tenant in one array (chunk i at i × dim), for the exact search. */
class VectorStore {
  readonly data: Float32Array;
  /** The document (index into the tenant's documents) of each chunk. */
  readonly documentOf: Int32Array;
  size = 0;

  constructor(
    readonly capacity: number,
    readonly dim: number,
  ) {
    this.data = new Float32Array(capacity * dim);
    this.documentOf = new Int32Array(capacity);
  }

  add(v: Float32Array, document: number): number {
    this.data.set(v, this.size * this.dim);
    this.documentOf[this.size] = document;
    return this.size++;
  }

  /** The k chunks nearest to q by cosine distance among those `allowed` lets through: exact, every chunk compared. */
  nearest(q: Float32Array, k: number, allowed?: (document: number) => boolean): number[] {
    const best: { i: number; d: number }[] = [];
    let qn = 0;
    for (const x of q) qn += x * x;
    qn = Math.sqrt(qn);
    for (let i = 0; i < this.size; i++) {
      if (allowed && !allowed(this.documentOf[i] ?? -1)) continue;
      let dot = 0;
      let vn = 0;
      const off = i * this.dim;
      for (let j = 0; j < this.dim; j++) {
        const x = this.data[off + j] ?? 0;
        dot += x * (q[j] ?? 0);
        vn += x * x;
      }
      const d = 1 - dot / (Math.sqrt(vn) * qn);
      if (best.length < k || d < (best[best.length - 1]?.d ?? Infinity)) {
        best.push({ i, d });
        best.sort((a, b) => a.d - b.d);
        if (best.length > k) best.pop();
      }
    }
    return best.map((b) => b.i);
  }
}

interface TenantCorpus {
  tenantId: string;
  documents: GeneratedDocument[];
  store: VectorStore;
  /** Chunk index in the store by chunk id, filled after the ingest. */
  chunkIndex: Map<string, number>;
}

interface BenchQuery {
  set: string;
  tenant: TenantCorpus;
  text: string;
  vector: Float32Array;
  filter?: SearchFilter;
  /** Which of the tenant's documents the filter lets through (for the exact search). */
  allowed?: (document: number) => boolean;
  /** The exact top 10, computed once. */
  exact?: number[];
  /** Milliseconds per phase and mode. */
  ms: Partial<Record<SearchPhaseResult['statistics'], Partial<Record<SearchMode, number>>>>;
  /** Postings of the query's terms (what an exhaustive keyword ranking reads), counted after the measurements. */
  postings?: number;
  /** The same per term, fewest first. */
  termPostings?: number[];
}

export interface SearchSetResult {
  /** The query set: all, a filter kind, or the small tenant. */
  set: string;
  mode: SearchMode;
  queries: number;
  latencyMs: LatencySummary;
  /** Vector mode: mean share of the exact top 10 among the 10 results. */
  recallAt10: number | null;
  /** Queries that returned fewer than 10 results though 10 chunks qualified. */
  short: number;
}

export interface SearchPhaseResult {
  statistics: 'none' | 'analyzed';
  /** pg_class.reltuples of chunks and chunk_terms when the phase started (-1: never analyzed or vacuumed). */
  reltuples: { chunks: number; chunkTerms: number };
  analyzeMs?: number;
  /**
   * The bench process's own garbage-collection pauses during the main set's hybrid searches: how many of those
   * searches one fell in, and their total overlap, ms (absent from results older than the count).
   */
  gc?: { hybridSearches: number; withPause: number; pauseMs: number };
  /** The main set per mode, when it ran first for its query and when after another mode (absent from older results). */
  byTurn?: { mode: SearchMode; firstMs: LatencySummary; laterMs: LatencySummary }[];
  sets: SearchSetResult[];
  hybridP99Ms: number;
  vectorRecallAt10: number;
  met: { hybridP99: boolean; vectorRecall: boolean };
  /** The main set by how many postings its queries' terms have: where keyword and hybrid time goes. */
  byPostings: PostingsBucket[];
  /** The main set's slowest hybrid searches: what the tail is made of (absent from results older than the list). */
  slowest?: SlowQuery[];
}

export interface SlowQuery {
  query: string;
  /** Postings of each of its terms (every configuration's lexemes that have any), fewest first. */
  termPostings: number[];
  ms: Partial<Record<SearchMode, number>>;
}

const SLOWEST = 5;

export interface PostingsBucket {
  /** Postings of the query's terms, [from, to). */
  from: number;
  to: number | null;
  queries: number;
  hybridMs: LatencySummary;
  keywordMs: LatencySummary;
}

const POSTINGS_BUCKETS = [0, 2_000, 5_000, 10_000, 20_000];

export interface SearchResult {
  model: { id: string; dim: number };
  rows: {
    chunks: number;
    documents: number;
    otherTenantChunks: number;
    otherTenantDocuments: number;
    postings: number;
    pages: number;
  };
  ingest: { seconds: number; chunksPerSec: number; chunksPerStatement: number };
  corpus: string;
  queries: { main: number; filtered: number; otherTenant: number; warmup: number; topK: number };
  targets: typeof SEARCH_TARGETS;
  phases: SearchPhaseResult[];
  /** Both targets met in the no-statistics phase, the condition the issue sets. */
  met: boolean;
}

const DATABASE_ONLY: AfterCommit = { committed: () => Promise.resolve() };

function sentenceText(
  rng: Random,
  vocab: Vocabulary,
  topic: number,
  words: number,
  identifier?: string,
): string {
  const own = vocab.topicWords[topic] ?? [];
  const out: string[] = [];
  let sentence = 0;
  const at = identifier === undefined ? -1 : rng.int(0, words - 1);
  for (let i = 0; i < words; i++) {
    let w = i === at && identifier ? identifier : rng.next() < 0.25 ? rng.pick(own) : vocab.zipf(rng);
    if (sentence === 0) w = w.charAt(0).toUpperCase() + w.slice(1);
    sentence++;
    if (sentence >= 8 && rng.next() < 0.12) {
      w += '.';
      sentence = 0;
    }
    out.push(w);
  }
  return `${out.join(' ')}.`;
}

function identifierFor(rng: Random, vocab: Vocabulary): string {
  if (rng.next() < 0.7) return `${rng.pick(ID_PREFIXES)}-${rng.int(10_000, 99_999)}`;
  const a = vocab.contentWord(rng);
  const b = vocab.contentWord(rng);
  return `${rng.pick(['parse', 'load', 'render', 'compute', 'fetch'])}${a.charAt(0).toUpperCase()}${a.slice(1)}${b.charAt(0).toUpperCase()}${b.slice(1)}`;
}

/** Chunk counts that sum to `total` over `documents` documents, between 5 and 150, most near the mean. */
function chunkCounts(rng: Random, documents: number, total: number): number[] {
  const raw = Array.from({ length: documents }, () => Math.exp(rng.gaussian() * 0.6));
  const sum = raw.reduce((a, b) => a + b, 0);
  const counts = raw.map((r) => Math.min(150, Math.max(5, Math.round((r / sum) * total))));
  let diff = total - counts.reduce((a, b) => a + b, 0);
  for (let i = 0; diff !== 0; i = (i + 1) % documents) {
    const c = counts[i] ?? 0;
    if (diff > 0 && c < 150) {
      counts[i] = c + 1;
      diff--;
    } else if (diff < 0 && c > 5) {
      counts[i] = c - 1;
      diff++;
    }
  }
  return counts;
}

interface Writers {
  jobs: JobsRepository;
  extraction: ExtractionRepository;
  indexing: IndexingRepository;
}

const writersFor = (prisma: PrismaClient, topo: ReturnType<typeof topology>): Writers => ({
  jobs: new JobsRepository(prisma, DATABASE_ONLY),
  extraction: new ExtractionRepository(prisma, topo, DATABASE_ONLY),
  indexing: new IndexingRepository(prisma, topo, DATABASE_ONLY),
});

/**
 * Writes a group of a tenant's documents as the pipeline does: a job created by the gateway's write path, each
 * document claimed and extracted (its pages stored), claimed for indexing and completed with its chunks and vectors,
 * the group's calls made together so the repositories' batchers make each step one statement (about 1,000 chunks).
 */
async function writeGroup(
  w: Writers,
  topo: ReturnType<typeof topology>,
  rng: Random,
  vocab: Vocabulary,
  centroids: Float32Array[],
  corpus: TenantCorpus,
  group: GeneratedDocument[],
  label: string,
): Promise<void> {
  const jobId = uuidv7();
  const job: NewIngestJob = {
    id: jobId,
    tenantId: corpus.tenantId,
    idempotencyKey: null,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    traceId: null,
    documents: group.map((d) => ({
      id: d.id,
      filename: `${label}/${d.id}.txt`,
      claimedContentType: 'text/plain',
      sha256: createHash('sha256').update(d.id).digest('hex'),
      sizeBytes: 1,
      blobKey: `${corpus.tenantId}/${d.id}`,
      tags: d.tags,
      metadata: d.metadata,
    })),
    outbox: [],
  };
  await w.jobs.createIngestJob(job);
  const built = group.map((d) => {
    const docIndex = corpus.documents.indexOf(d);
    const docVector = around(rng, centroids[d.topic] ?? new Float32Array(SEARCH_MODEL.dim), 1.0);
    const chunks: ChunkInput[] = [];
    const pages: PageInput[] = [];
    let pageText = '';
    let pageNumber = 1;
    const perPage = 10;
    for (let i = 0; i < d.chunkCount; i++) {
      const identifier = rng.next() < 0.15 ? rng.pick(d.identifiers) : undefined;
      const text = sentenceText(rng, vocab, d.topic, rng.int(60, 140), identifier);
      const vector = around(rng, docVector, 0.75);
      const index = corpus.store.add(vector, docIndex);
      if (i === 0) d.firstChunk = index;
      pageText += (pageText ? '\n' : '') + text;
      chunks.push({
        pageNumber,
        ordinal: i,
        text,
        tokenCount: text.split(' ').length,
        charStart: pageText.length - text.length,
        charEnd: pageText.length,
        embedding: vector,
      });
      if ((i + 1) % perPage === 0 || i === d.chunkCount - 1) {
        pages.push({
          pageNumber,
          text: pageText,
          sections: [
            { offset: 0, path: [`Part ${pageNumber}`] },
            { offset: Math.floor(pageText.length / 2), path: [`Part ${pageNumber}`, 'Details'] },
          ],
        });
        pageText = '';
        pageNumber++;
      }
    }
    return { d, chunks, pages };
  });
  const claims = await Promise.all(group.map((d) => w.extraction.claimForExtraction(corpus.tenantId, d.id)));
  await Promise.all(
    claims.map((c, i) => {
      if (!c.claimed) throw new Error(`search: extraction claim refused (${c.reason})`);
      return w.extraction.completeExtraction(
        c.work,
        { detectedType: 'text', pages: built[i]?.pages ?? [] },
        indexCommandRow(topo, c.work),
      );
    }),
  );
  const indexClaims = await Promise.all(group.map((d) => w.indexing.claimForIndexing(corpus.tenantId, d.id)));
  const done = await Promise.all(
    indexClaims.map((c, i) => {
      if (!c.claimed) throw new Error(`search: indexing claim refused (${c.reason})`);
      return w.indexing.completeIndexing(c.work, built[i]?.chunks ?? [], SEARCH_MODEL, {
        language: 'eng',
        config: 'english',
      });
    }),
  );
  if (done.some((r) => r === null)) throw new Error('search: a document was not indexed');
}

function makeCorpus(
  tenantId: string,
  tenant: 'a' | 'b',
  documents: number,
  chunks: number,
  rng: Random,
  vocab: Vocabulary,
) {
  const counts = chunkCounts(rng, documents, chunks);
  const docs: GeneratedDocument[] = counts.map((chunkCount, i) => ({
    id: uuidv7(),
    tenant,
    topic: rng.int(0, TOPICS - 1),
    chunkCount,
    tags: [...new Set(Array.from({ length: rng.int(1, 3) }, () => rng.pick(TAGS)))],
    metadata: { dept: DEPARTMENTS[i % DEPARTMENTS.length] ?? 'ops', year: rng.int(2018, 2025) },
    identifiers: [identifierFor(rng, vocab), identifierFor(rng, vocab)],
    firstChunk: -1,
  }));
  return {
    tenantId,
    documents: docs,
    store: new VectorStore(chunks, SEARCH_MODEL.dim),
    chunkIndex: new Map<string, number>(),
  } satisfies TenantCorpus;
}

/** A query about one topic: a few of its words (or one of its documents' identifiers) and a vector near its centroid. */
function makeQuery(
  rng: Random,
  vocab: Vocabulary,
  centroids: Float32Array[],
  corpus: TenantCorpus,
  set: string,
): BenchQuery {
  const topic = rng.int(0, TOPICS - 1);
  const words: string[] = [];
  const n = rng.int(2, 4);
  for (let i = 0; i < n; i++)
    words.push(rng.next() < 0.6 ? rng.pick(vocab.topicWords[topic] ?? []) : vocab.contentWord(rng));
  if (rng.next() < 0.2) {
    const ofTopic = corpus.documents.filter((d) => d.topic === topic);
    const doc = ofTopic.length > 0 ? rng.pick(ofTopic) : rng.pick(corpus.documents);
    const id = rng.pick(doc.identifiers);
    if (rng.next() < 0.5) words.splice(0, words.length, id);
    else words.push(id);
  }
  return {
    set,
    tenant: corpus,
    text: words.join(' '),
    vector: around(rng, centroids[topic] ?? new Float32Array(SEARCH_MODEL.dim), 1.0),
    ms: {},
  };
}

/**
 * Each query's postings: the lexemes the keyword ranking parses out of it (every configuration, as the search does)
 * and their postings in the tenant's keyword index. Counted after the measurements, so the count does not warm the
 * cache for them.
 */
async function countPostings(url: string, queries: BenchQuery[]): Promise<void> {
  await withClient(url, async (c) => {
    for (const q of queries) {
      const { rows } = await c.query<{ n: string }>(
        `SELECT n FROM (
           SELECT (SELECT count(*) FROM chunk_terms x
                   WHERE x.tenant_id = $1 AND x.embedding_model = $2 AND x.lexeme = t.lexeme) AS n
           FROM (SELECT DISTINCT t.lexeme FROM unnest($3::regconfig[]) AS cfg, unnest(to_tsvector(cfg, $4)) AS t) t) p
         WHERE n > 0 ORDER BY n`,
        [q.tenant.tenantId, SEARCH_MODEL.id, [...TEXT_SEARCH_CONFIGS], q.text],
      );
      q.termPostings = rows.map((r) => Number(r.n));
      q.postings = q.termPostings.reduce((a, b) => a + b, 0);
    }
  });
}

function slowestOf(queries: BenchQuery[], statistics: SearchPhaseResult['statistics']): SlowQuery[] {
  return queries
    .filter((q) => q.ms[statistics]?.hybrid !== undefined)
    .sort((a, b) => (b.ms[statistics]?.hybrid ?? 0) - (a.ms[statistics]?.hybrid ?? 0))
    .slice(0, SLOWEST)
    .map((q) => ({ query: q.text, termPostings: q.termPostings ?? [], ms: { ...q.ms[statistics] } }));
}

function byPostings(queries: BenchQuery[], statistics: SearchPhaseResult['statistics']): PostingsBucket[] {
  return POSTINGS_BUCKETS.map((from, i) => {
    const to = POSTINGS_BUCKETS[i + 1] ?? null;
    const of = queries.filter((q) => (q.postings ?? 0) >= from && (to === null || (q.postings ?? 0) < to));
    const times = (mode: SearchMode) =>
      of.map((q) => q.ms[statistics]?.[mode]).filter((v): v is number => v !== undefined);
    return {
      from,
      to,
      queries: of.length,
      hybridMs: summarize(times('hybrid')),
      keywordMs: summarize(times('keyword')),
    };
  }).filter((b) => b.queries > 0);
}

async function reltuples(url: string): Promise<{ chunks: number; chunkTerms: number }> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ relname: string; reltuples: number }>(
      "SELECT relname, reltuples::float8 AS reltuples FROM pg_class WHERE relname IN ('chunks', 'chunk_terms')",
    );
    const of = (n: string) => rows.find((r) => r.relname === n)?.reltuples ?? NaN;
    return { chunks: of('chunks'), chunkTerms: of('chunk_terms') };
  });
}

async function runPhase(
  chunks: ChunksRepository,
  queries: BenchQuery[],
  statistics: SearchPhaseResult['statistics'],
  url: string,
  progress: (line: string) => void,
): Promise<Omit<SearchPhaseResult, 'analyzeMs' | 'byPostings' | 'slowest'>> {
  const before = await reltuples(url);
  const modes: SearchMode[] = ['hybrid', 'vector', 'keyword'];
  // The ingest left this process's old generation full of garbage, and the bench holds what no worker does (every
  // generated vector, for the exact search): a full collection now, where it is not timed, so a major collection
  // does not land inside a search (one had, in 3 of 200 hybrid searches, 10 ms each). `npm run bench` exposes gc.
  (globalThis as { gc?: () => void }).gc?.();
  // This process's garbage-collection pauses, to tell how many of the main set's hybrid timings one fell in.
  const pauses: { start: number; end: number }[] = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push({ start: e.startTime, end: e.startTime + e.duration });
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const hybridTimings: { start: number; end: number }[] = [];
  const samples = new Map<string, { latencies: number[]; recall: number[]; short: number }>();
  // The main set's timings by whether the mode ran first for its query or after another one.
  const byTurn = new Map<SearchMode, { first: number[]; later: number[] }>(
    modes.map((m) => [m, { first: [], later: [] }]),
  );
  let done = 0;
  for (const q of queries) {
    // The modes in turn for each query, each first for a third of them. The first search of a query reads its
    // postings into PostgreSQL's shared buffers (128 MB here, against about 1.4 GB of postings and their index)
    // from the system's cache, and the keyword and hybrid searches after it find them there: a keyword search
    // took a third longer at the median when it came first. In a fixed order hybrid had always come first.
    const turn = done % modes.length;
    for (const [position, mode] of [...modes.slice(turn), ...modes.slice(0, turn)].entries()) {
      const started = performance.now();
      const { hits } = await chunks.search({
        tenantId: q.tenant.tenantId,
        mode,
        query: q.text,
        vector: q.vector,
        model: SEARCH_MODEL,
        ...(q.filter ? { filter: q.filter } : {}),
        topK: 10,
        offset: 0,
      });
      const ms = performance.now() - started;
      if (q.set === 'all' && mode === 'hybrid') hybridTimings.push({ start: started, end: started + ms });
      if (q.set === 'all') byTurn.get(mode)?.[position === 0 ? 'first' : 'later'].push(ms);
      (q.ms[statistics] ??= {})[mode] = ms;
      const key = `${q.set}\u0000${mode}`;
      const s = samples.get(key) ?? { latencies: [], recall: [], short: 0 };
      s.latencies.push(ms);
      if (mode === 'vector' && q.exact) {
        const got = new Set(hits.map((h) => q.tenant.chunkIndex.get(h.chunkId)));
        const relevant = q.exact.length;
        if (relevant > 0) s.recall.push(q.exact.filter((i) => got.has(i)).length / Math.min(10, relevant));
        if (hits.length < Math.min(10, relevant)) s.short++;
      }
      samples.set(key, s);
    }
    done++;
    if (done % 100 === 0)
      progress(
        `search: ${statistics === 'none' ? 'no statistics' : 'analyzed'}, ${done}/${queries.length} queries`,
      );
  }
  for (const e of gcObserver.takeRecords())
    pauses.push({ start: e.startTime, end: e.startTime + e.duration });
  gcObserver.disconnect();
  let withPause = 0;
  let pauseMs = 0;
  for (const t of hybridTimings) {
    const overlap = pauses.reduce(
      (sum, p) => sum + Math.max(0, Math.min(t.end, p.end) - Math.max(t.start, p.start)),
      0,
    );
    if (overlap > 0) withPause++;
    pauseMs += overlap;
  }
  const sets: SearchSetResult[] = [];
  for (const [key, s] of samples) {
    const [set = '', mode = 'hybrid'] = key.split('\u0000');
    sets.push({
      set,
      mode: mode as SearchMode,
      queries: s.latencies.length,
      latencyMs: summarize(s.latencies),
      recallAt10:
        mode === 'vector' && s.recall.length > 0
          ? round4(s.recall.reduce((a, b) => a + b, 0) / s.recall.length)
          : null,
      short: s.short,
    });
  }
  const main = (mode: SearchMode) => sets.find((x) => x.set === 'all' && x.mode === mode);
  const hybridP99Ms = main('hybrid')?.latencyMs.p99 ?? NaN;
  const vectorRecallAt10 = main('vector')?.recallAt10 ?? NaN;
  return {
    statistics,
    reltuples: before,
    gc: { hybridSearches: hybridTimings.length, withPause, pauseMs: Math.round(pauseMs * 100) / 100 },
    byTurn: [...byTurn].map(([mode, t]) => ({
      mode,
      firstMs: summarize(t.first),
      laterMs: summarize(t.later),
    })),
    sets,
    hybridP99Ms,
    vectorRecallAt10,
    met: {
      hybridP99: hybridP99Ms <= SEARCH_TARGETS.hybridP99Ms,
      vectorRecall: vectorRecallAt10 >= SEARCH_TARGETS.vectorRecallAt10,
    },
  };
}

export async function runSearch(
  options: BenchOptions,
  logger: Logger,
  progress: (line: string) => void,
): Promise<SearchResult> {
  const total = options.searchChunks;
  const documents = Math.max(1, Math.round(total / 50));
  const otherChunks = Math.max(10, Math.round(total / 10));
  const otherDocuments = Math.max(1, Math.round(otherChunks / 50));
  const db: TestDatabase = await createTestDatabase('bench_search');
  let prisma: PrismaClient | undefined;
  let search: SearchPrismaClient | undefined;
  try {
    // No statistics until the bench asks for them: autovacuum (and so autoanalyze) off on every table.
    await withClient(db.url, async (c) => {
      const { rows } = await c.query<{ t: string }>(
        "SELECT quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'public'",
      );
      for (const { t } of rows) await c.query(`ALTER TABLE ${t} SET (autovacuum_enabled = false)`);
    });
    prisma = createPrismaClient({ databaseUrl: db.url, poolMax: 4 });
    const topo = topology('bench_search');
    const tenants = new TenantsRepository(prisma);
    const a = await tenants.ensureTenantWithKey('bench-search-a', 'bench-search-a-key-0123456789');
    const b = await tenants.ensureTenantWithKey('bench-search-b', 'bench-search-b-key-0123456789');
    const rng = new Random(20261206);
    const vocab = new Vocabulary(rng);
    const centroids = Array.from({ length: TOPICS }, () =>
      normalize(Float32Array.from({ length: SEARCH_MODEL.dim }, () => rng.gaussian())),
    );
    const big = makeCorpus(a.tenantId, 'a', documents, total, rng, vocab);
    const small = makeCorpus(b.tenantId, 'b', otherDocuments, otherChunks, rng, vocab);

    progress(
      `search: writing ${total} chunks over ${documents} documents (and ${otherChunks} of another tenant)`,
    );
    const started = performance.now();
    // Groups of GROUP_DOCUMENTS documents, the small tenant's spread among the large one's as two tenants' uploads
    // would be, written by WRITERS writers at once as that many analysis workers would (each with repositories of
    // its own, so its own statements). Each group draws from a generator of its own: the corpus does not depend on
    // which writer takes it when.
    const groups: { corpus: TenantCorpus; label: string; documents: GeneratedDocument[] }[] = [];
    const groupsOf = (corpus: TenantCorpus, label: string) =>
      Array.from({ length: Math.ceil(corpus.documents.length / GROUP_DOCUMENTS) }, (_, g) => ({
        corpus,
        label,
        documents: corpus.documents.slice(g * GROUP_DOCUMENTS, (g + 1) * GROUP_DOCUMENTS),
      }));
    const bigGroups = groupsOf(big, 'a');
    const smallGroups = groupsOf(small, 'b');
    const every = Math.max(1, Math.floor(bigGroups.length / Math.max(1, smallGroups.length)));
    bigGroups.forEach((g, i) => {
      groups.push(g);
      const other = i % every === every - 1 ? smallGroups.shift() : undefined;
      if (other) groups.push(other);
    });
    groups.push(...smallGroups);
    let next = 0;
    let written = 0;
    await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        const w = writersFor(prisma as PrismaClient, topo);
        while (next < groups.length) {
          const at = next++;
          const g = groups[at];
          if (!g) break;
          await writeGroup(w, topo, new Random(1000 + at), vocab, centroids, g.corpus, g.documents, g.label);
          written += g.documents.length;
          if (at % 20 === 19) progress(`search: ${written}/${documents + otherDocuments} documents indexed`);
        }
      }),
    );
    const ingestMs = performance.now() - started;

    const rows = await withClient(db.url, async (c) => {
      const count = async (q: string, params: unknown[] = []) =>
        Number((await c.query<{ n: string }>(q, params)).rows[0]?.n ?? 0);
      for (const corpus of [big, small]) {
        const byDoc = new Map(corpus.documents.map((d) => [d.id, d]));
        const { rows: ids } = await c.query<{ id: string; document_id: string; ordinal: number }>(
          'SELECT id, document_id, ordinal FROM chunks WHERE tenant_id = $1',
          [corpus.tenantId],
        );
        for (const r of ids) {
          const d = byDoc.get(r.document_id);
          if (d) corpus.chunkIndex.set(r.id, d.firstChunk + r.ordinal);
        }
      }
      return {
        chunks: await count('SELECT count(*) AS n FROM chunks WHERE tenant_id = $1', [big.tenantId]),
        documents: await count(
          "SELECT count(*) AS n FROM documents WHERE tenant_id = $1 AND status = 'indexed'",
          [big.tenantId],
        ),
        otherTenantChunks: await count('SELECT count(*) AS n FROM chunks WHERE tenant_id = $1', [
          small.tenantId,
        ]),
        otherTenantDocuments: await count(
          "SELECT count(*) AS n FROM documents WHERE tenant_id = $1 AND status = 'indexed'",
          [small.tenantId],
        ),
        postings: await count('SELECT count(*) AS n FROM chunk_terms'),
        pages: await count('SELECT count(*) AS n FROM pages'),
      };
    });
    if (rows.chunks !== total || rows.otherTenantChunks !== otherChunks)
      throw new Error(
        `search: ${rows.chunks} and ${rows.otherTenantChunks} chunks stored, not ${total} and ${otherChunks}`,
      );

    // The queries: the main set on the large tenant, the same kind with a filter, and the small tenant's.
    const queries: BenchQuery[] = [];
    for (let i = 0; i < options.searchQueries; i++)
      queries.push(makeQuery(rng, vocab, centroids, big, 'all'));
    const filtered = Math.max(1, Math.round(options.searchQueries / 10));
    for (let i = 0; i < filtered; i++) {
      const tag = rng.pick(TAGS);
      const q = makeQuery(rng, vocab, centroids, big, 'tags');
      q.filter = { tags: [tag] };
      q.allowed = (d) => big.documents[d]?.tags.includes(tag) ?? false;
      queries.push(q);
    }
    for (let i = 0; i < filtered; i++) {
      const dept = rng.pick(DEPARTMENTS);
      const q = makeQuery(rng, vocab, centroids, big, 'metadata');
      q.filter = { metadata: { dept } };
      q.allowed = (d) => big.documents[d]?.metadata.dept === dept;
      queries.push(q);
    }
    for (let i = 0; i < filtered; i++) {
      const picked = new Set(Array.from({ length: 5 }, () => rng.int(0, big.documents.length - 1)));
      const q = makeQuery(rng, vocab, centroids, big, 'documentIds');
      q.filter = { documentIds: [...picked].map((d) => big.documents[d]?.id ?? '') };
      q.allowed = (d) => picked.has(d);
      queries.push(q);
    }
    const otherQueries = Math.max(1, Math.round(options.searchQueries / 4));
    for (let i = 0; i < otherQueries; i++)
      queries.push(makeQuery(rng, vocab, centroids, small, 'other tenant'));
    progress(`search: exact top 10 of ${queries.length} queries`);
    for (const q of queries) q.exact = q.tenant.store.nearest(q.vector, 10, q.allowed);
    const warmup = Array.from({ length: 10 }, () => makeQuery(rng, vocab, centroids, big, 'warmup'));

    search = createSearchPrismaClient({ databaseUrl: db.url, poolMax: 4 });
    const chunks = new ChunksRepository(search);
    // Opens the pool's connections; these queries are not counted.
    for (const q of warmup)
      await chunks.search({
        tenantId: big.tenantId,
        mode: 'hybrid',
        query: q.text,
        vector: q.vector,
        model: SEARCH_MODEL,
        topK: 10,
        offset: 0,
      });
    progress('search: measuring with no statistics');
    const none = await runPhase(chunks, queries, 'none', db.url, progress);
    progress('search: ANALYZE, then the same queries');
    const analyzeStarted = performance.now();
    await withClient(db.url, (c) => c.query('ANALYZE'));
    const analyzeMs = Math.round(performance.now() - analyzeStarted);
    const analyzed = await runPhase(chunks, queries, 'analyzed', db.url, progress);
    const main = queries.filter((q) => q.set === 'all');
    await countPostings(db.url, main);
    return {
      model: SEARCH_MODEL,
      rows,
      ingest: {
        seconds: Math.round(ingestMs / 100) / 10,
        chunksPerSec: Math.round(((total + otherChunks) * 1000) / ingestMs),
        chunksPerStatement: Math.round((total + otherChunks) / groups.length),
      },
      corpus:
        `${TOPICS} topics; vocabulary of ${FUNCTION_WORDS.length} English function words and ${CONTENT_WORDS} made-up ` +
        `words, Zipf (s = 1); 60–140 words a chunk, a quarter of them from the topic's ${TOPIC_WORDS} words, 15 % of ` +
        `chunks with one of their document's 2 identifiers; vectors: topic centroid (random unit vector) + noise of ` +
        'length 1.0 per document, + 0.75 per chunk, L2-normalised; queries: 2–4 words (60 % topic words), a fifth ' +
        'with an identifier, vector = centroid + noise 1.0',
      queries: {
        main: options.searchQueries,
        filtered: filtered * 3,
        otherTenant: otherQueries,
        warmup: warmup.length,
        topK: 10,
      },
      targets: SEARCH_TARGETS,
      phases: [
        { ...none, byPostings: byPostings(main, 'none'), slowest: slowestOf(main, 'none') },
        {
          ...analyzed,
          analyzeMs,
          byPostings: byPostings(main, 'analyzed'),
          slowest: slowestOf(main, 'analyzed'),
        },
      ],
      met: none.met.hybridP99 && none.met.vectorRecall,
    };
  } finally {
    await search
      ?.$disconnect()
      .catch((e: unknown) => logger.warn({ err: e }, 'search client disconnect failed'));
    await prisma
      ?.$disconnect()
      .catch((e: unknown) => logger.warn({ err: e }, 'search prisma disconnect failed'));
    if (options.searchKeepDb) progress(`search: database kept at ${db.url}`);
    else await db.drop().catch((e: unknown) => logger.warn({ err: e }, 'search database drop failed'));
  }
}
