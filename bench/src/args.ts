import path from 'node:path';
import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** Jobs per closed-loop run, at each concurrency (fewer if the run reaches maxRunSeconds). */
  jobs: number;
  /** Time cap of one closed-loop run: no new job starts after it. */
  maxRunSeconds: number;
  /** Size of the backlog in the drain runs. */
  drainJobs: number;
  /** Jobs through the whole pipeline before any measurement. */
  warmupJobs: number;
  /** Handler concurrency per consumer; the closed loop keeps as many jobs in flight. */
  levels: number[];
  /** Connections in each role's pg pool (producer, ingest worker, index worker): DATABASE_POOL_MAX. */
  pool: number;
  /** Samples for the component timings (createIngestJob alone, state machine alone). */
  componentSamples: number;
  /** Messages for the raw JetStream figures and the no-op CommandConsumer drains. */
  rawMessages: number;
  httpRequests: number;
  httpWarmup: number;
  httpConcurrency: number;
  /** Bytes of the uploaded text file. */
  fileBytes: number;
  gatewayLogLevel: string;
  /** Uploads per variant and phase (sequential, concurrent) in the observability-overhead section. */
  otelRequests: number;
  /** Rounds the otel requests are split into, the variants alternating within each. */
  otelRounds: number;
  /** Warm-up uploads per otel variant, sequential and again concurrent. */
  otelWarmup: number;
  /** Measured GET /metrics scrapes. */
  metricsScrapes: number;
  /** Documents: full pages rendered at 300 dpi for the OCR comparisons (PNG, and the same as one scanned PDF). */
  ocrPages: number;
  /** Rounds of each OCR comparison, raw and Quarry alternating; the medians are reported. */
  ocrRounds: number;
  /** Born-digital PDFs in the text-layer comparison, and pages in each. */
  textPdfs: number;
  textPdfPages: number;
  textRounds: number;
  /** Pages of the scanned PDF the ingest worker's memory is watched on. */
  scanPages: number;
  /** Size of the upload streamed to the gateway while its memory is watched, in MiB. */
  bigUploadMb: number;
  /** Peers: jobs in the burst (16 producers) and the paced phase's rate and length. */
  burstJobs: number;
  pacedRate: number;
  pacedSeconds: number;
  /** Scale-out: uploads in each step's backlog, and the worker replicas (of each kind) of the steps. */
  scaleJobs: number;
  scaleReplicas: number[];
  /**
   * The analysis workers' embeddings: `local` (the default provider, USE-lite on their own CPU, as users run it) or
   * `stub` (an OpenAI-compatible server in the bench answering at once: what the pipeline costs without the model).
   */
  scaleEmbedding: 'local' | 'stub';
  /** Which peers run (--peers=a,b), in the bench's order; all by default. */
  peers: string[];
  /** The parts named with --only (peers added when orchestration is named), or null for all. */
  only: BenchPart[] | null;
  skipOrchestration: boolean;
  skipPeers: boolean;
  skipHttp: boolean;
  skipOtel: boolean;
  skipDocuments: boolean;
  skipScale: boolean;
  skipRetrieval: boolean;
  /**
   * Retrieval: also ingest BEIR SciFact (when ../shared/corpora/beir-scifact is present) and score its claims; off by
   * default, as the local model embeds each abstract on its own and the ingest takes most of an hour on 2 cores.
   */
  retrievalScifact: boolean;
  skipSearch: boolean;
  /** Search: chunks of the large tenant (the small one gets a tenth), written before any statistics exist. */
  searchChunks: number;
  /** Search: queries of the main set (hybrid, vector and keyword each); a tenth more per filter kind, a quarter on the small tenant. */
  searchQueries: number;
  /** Search: leave its database in place (for EXPLAIN afterwards) instead of dropping it. */
  searchKeepDb: boolean;
  outDir: string;
}

export const BENCH_PARTS = [
  'orchestration',
  'peers',
  'http',
  'otel',
  'documents',
  'scale',
  'retrieval',
  'search',
] as const;
export type BenchPart = (typeof BENCH_PARTS)[number];

/**
 * The parts a comma list names. Naming orchestration brings its peers comparison along (the
 * comparison is part of what "orchestration" measures); --skip-peers still removes it.
 */
export function parseOnly(raw: string): BenchPart[] {
  const names = raw
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  if (names.length === 0) throw new Error('--only needs at least one part');
  const parts = new Set<BenchPart>();
  for (const name of names) {
    if (!(BENCH_PARTS as readonly string[]).includes(name))
      throw new Error(`--only: unknown part "${name}" (parts: ${BENCH_PARTS.join(', ')})`);
    parts.add(name as BenchPart);
  }
  if (parts.has('orchestration')) parts.add('peers');
  return BENCH_PARTS.filter((p) => parts.has(p));
}

export const USAGE = `npm run bench [-- options]

  --jobs=N               jobs per closed-loop run (default 500)
  --max-run-seconds=S    no new closed-loop job starts after S seconds (default 20)
  --drain-jobs=N         backlog size of the drain runs (default 200)
  --warmup-jobs=N        jobs through the pipeline before measuring (default 200)
  --levels=1,4,16        handler concurrency per consumer (default 1,4,16)
  --pool=N               pg connections per role: producer, ingest, index (default 10)
  --component-samples=N  samples for createIngestJob / state machine alone (default 150)
  --raw-messages=N       messages for raw JetStream and the no-op CommandConsumer (default 1000)
  --http-requests=N      POST /v1/documents requests per phase (default 300)
  --http-warmup=N        warm-up requests, not measured (default 20)
  --http-concurrency=N   concurrent clients in the second HTTP phase (default 8)
  --file-bytes=N         size of the uploaded text file (default 1024)
  --gateway-log-level=L  LOG_LEVEL of the gateway process (default info, as users run it)
  --otel-requests=N      observability overhead: uploads per variant per phase (default 300)
  --otel-rounds=N        rounds those are split into, variants alternating (default 3)
  --otel-warmup=N        warm-up uploads per variant, sequential and concurrent (default 30)
  --metrics-scrapes=N    measured GET /metrics scrapes (default 200)
  --ocr-pages=N          documents: full text pages rendered at 300 dpi for the OCR comparisons (default 16)
  --ocr-rounds=N         documents: rounds of each OCR comparison, raw and Quarry alternating (default 2)
  --text-pdfs=N          documents: born-digital PDFs in the text-layer comparison (default 20)
  --text-pdf-pages=N     documents: pages in each of them (default 50)
  --text-rounds=N        documents: rounds of the text-layer comparison (default 3)
  --scan-pages=N         documents: pages of the scanned PDF the worker's memory is watched on (default 300)
  --big-upload-mb=N      documents: MiB streamed to the gateway while its memory is watched (default 500)
  --burst-jobs=N         peers: jobs in each peer's burst, 16 producers (default 3000)
  --paced-rate=N         peers and HTTP: jobs (uploads) per second of the paced phase (default 100)
  --paced-seconds=S      peers and HTTP: length of the paced phase (default 10)
  --scale-jobs=N         scale: uploads in the backlog of each step (default 240)
  --scale-replicas=1,2,4 scale: ingest and analysis worker processes (each) of the steps (default 1,2,4)
  --scale-embedding=E    scale: local (USE-lite in the analysis workers, the default) or stub (an
                         OpenAI-compatible server in the bench that answers at once: Quarry without the model)
  --peers=a,b            peers to run (default all: floor,bullmq,pg-boss,graphile-worker,naive,quarry)
  --only=a,b             only these parts: orchestration (brings peers along), peers, http, otel,
                         documents, scale, retrieval, search; --skip-* flags still apply beside it
  --skip-orchestration   no orchestration part (and so no peers)
  --skip-peers           no peers comparison (floor, BullMQ, pg-boss, Graphile Worker, naive, Quarry)
  --skip-http            no HTTP gateway part
  --skip-otel            no observability-overhead part (tracing variants, /metrics scrape)
  --skip-documents       no documents part (OCR and text-layer throughput, worker and gateway memory)
  --skip-scale           no scale-out part (1, 2, 4 worker processes of each kind draining a backlog)
  --skip-retrieval       no retrieval part (labelled set and SciFact through the pipeline, each search mode)
  --skip-search          no search part (100,000 chunks searched before and after ANALYZE)
  --search-chunks=N      search: chunks of the large tenant (default 100000; the other tenant gets a tenth)
  --search-queries=N     search: queries of the main set, each in hybrid, vector and keyword mode (default 200)
  --search-keep-db       search: keep its database (URL printed) for EXPLAIN afterwards; drop it by hand
  --scifact              retrieval: also BEIR SciFact through the pipeline (5,183 abstracts: about 50 minutes here,
                         each document embedded on its own by the local model)
  --out=DIR              results folder (default bench/results)
`;

export const PEER_NAMES = ['floor', 'bullmq', 'pg-boss', 'graphile-worker', 'naive', 'quarry'] as const;

function parsePeers(raw: string | undefined): string[] {
  if (raw === undefined) return [...PEER_NAMES];
  const names = new Set(raw.split(',').map((n) => n.trim()));
  for (const n of names) {
    if (!(PEER_NAMES as readonly string[]).includes(n))
      throw new Error(`--peers: unknown peer "${n}" (peers: ${PEER_NAMES.join(', ')})`);
  }
  return PEER_NAMES.filter((n) => names.has(n));
}

/**
 * The replica counts of the scale steps, ascending and without repeats: the first is what the others' speed-up is
 * measured against.
 */
export function parseReplicas(raw: string | undefined): number[] {
  if (raw === undefined) return [1, 2, 4];
  const values = raw
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '')
    .map((r) => positiveInt('scale-replicas', r, 1));
  if (values.length === 0) throw new Error('--scale-replicas needs at least one count');
  return [...new Set(values)].sort((a, b) => a - b);
}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--${name} must be a positive integer, got "${raw}"`);
  return value;
}

export function parseBenchArgs(argv: string[], repoRoot: string): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      jobs: { type: 'string' },
      'max-run-seconds': { type: 'string' },
      'drain-jobs': { type: 'string' },
      'warmup-jobs': { type: 'string' },
      levels: { type: 'string' },
      pool: { type: 'string' },
      'component-samples': { type: 'string' },
      'raw-messages': { type: 'string' },
      'http-requests': { type: 'string' },
      'http-warmup': { type: 'string' },
      'http-concurrency': { type: 'string' },
      'file-bytes': { type: 'string' },
      'gateway-log-level': { type: 'string' },
      'otel-requests': { type: 'string' },
      'otel-rounds': { type: 'string' },
      'otel-warmup': { type: 'string' },
      'metrics-scrapes': { type: 'string' },
      'ocr-pages': { type: 'string' },
      'ocr-rounds': { type: 'string' },
      'text-pdfs': { type: 'string' },
      'text-pdf-pages': { type: 'string' },
      'text-rounds': { type: 'string' },
      'scan-pages': { type: 'string' },
      'big-upload-mb': { type: 'string' },
      'burst-jobs': { type: 'string' },
      'paced-rate': { type: 'string' },
      'paced-seconds': { type: 'string' },
      'scale-jobs': { type: 'string' },
      'scale-replicas': { type: 'string' },
      'scale-embedding': { type: 'string' },
      only: { type: 'string' },
      peers: { type: 'string' },
      'skip-peers': { type: 'boolean' },
      'skip-documents': { type: 'boolean' },
      'skip-otel': { type: 'boolean' },
      'skip-orchestration': { type: 'boolean' },
      'skip-http': { type: 'boolean' },
      'skip-scale': { type: 'boolean' },
      'skip-retrieval': { type: 'boolean' },
      'skip-search': { type: 'boolean' },
      'search-chunks': { type: 'string' },
      'search-queries': { type: 'string' },
      'search-keep-db': { type: 'boolean' },
      scifact: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const only = values.only === undefined ? null : parseOnly(values.only);
  const skipped = (part: BenchPart, flag: boolean | undefined) =>
    (flag ?? false) || (only !== null && !only.includes(part));
  const skipOrchestration = skipped('orchestration', values['skip-orchestration']);
  // Without --only the peers belong to the orchestration part: skipping it skips them (so the
  // documents-only command stays what it was).
  const skipPeers = skipped('peers', values['skip-peers']) || (only === null && skipOrchestration);
  const levels = (values.levels ?? '1,4,16').split(',').map((l) => positiveInt('levels', l.trim(), 1));
  const scaleReplicas = parseReplicas(values['scale-replicas']);
  const scaleEmbedding = values['scale-embedding'] ?? 'local';
  if (scaleEmbedding !== 'local' && scaleEmbedding !== 'stub')
    throw new Error(`--scale-embedding must be local or stub, got "${scaleEmbedding}"`);
  return {
    jobs: positiveInt('jobs', values.jobs, 500),
    maxRunSeconds: positiveInt('max-run-seconds', values['max-run-seconds'], 20),
    drainJobs: positiveInt('drain-jobs', values['drain-jobs'], 200),
    warmupJobs: positiveInt('warmup-jobs', values['warmup-jobs'], 200),
    levels,
    pool: positiveInt('pool', values.pool, 10),
    componentSamples: positiveInt('component-samples', values['component-samples'], 150),
    rawMessages: positiveInt('raw-messages', values['raw-messages'], 1000),
    httpRequests: positiveInt('http-requests', values['http-requests'], 300),
    // Zero warm-up requests is a legitimate choice.
    httpWarmup: values['http-warmup'] === '0' ? 0 : positiveInt('http-warmup', values['http-warmup'], 20),
    httpConcurrency: positiveInt('http-concurrency', values['http-concurrency'], 8),
    fileBytes: positiveInt('file-bytes', values['file-bytes'], 1024),
    gatewayLogLevel: values['gateway-log-level'] ?? 'info',
    otelRequests: positiveInt('otel-requests', values['otel-requests'], 300),
    otelRounds: positiveInt('otel-rounds', values['otel-rounds'], 3),
    otelWarmup: positiveInt('otel-warmup', values['otel-warmup'], 30),
    metricsScrapes: positiveInt('metrics-scrapes', values['metrics-scrapes'], 200),
    // The OCR comparisons warm up with two pages first; fewer measured pages would be mostly warm-up.
    ocrPages: Math.max(2, positiveInt('ocr-pages', values['ocr-pages'], 16)),
    ocrRounds: positiveInt('ocr-rounds', values['ocr-rounds'], 2),
    textPdfs: Math.max(2, positiveInt('text-pdfs', values['text-pdfs'], 20)),
    textPdfPages: positiveInt('text-pdf-pages', values['text-pdf-pages'], 50),
    textRounds: positiveInt('text-rounds', values['text-rounds'], 3),
    scanPages: positiveInt('scan-pages', values['scan-pages'], 300),
    bigUploadMb: positiveInt('big-upload-mb', values['big-upload-mb'], 500),
    burstJobs: positiveInt('burst-jobs', values['burst-jobs'], 3000),
    pacedRate: positiveInt('paced-rate', values['paced-rate'], 100),
    pacedSeconds: positiveInt('paced-seconds', values['paced-seconds'], 10),
    scaleJobs: positiveInt('scale-jobs', values['scale-jobs'], 240),
    scaleReplicas,
    scaleEmbedding,
    peers: parsePeers(values.peers),
    only,
    skipOrchestration,
    skipPeers,
    skipHttp: skipped('http', values['skip-http']),
    skipOtel: skipped('otel', values['skip-otel']),
    skipDocuments: skipped('documents', values['skip-documents']),
    skipScale: skipped('scale', values['skip-scale']),
    skipRetrieval: skipped('retrieval', values['skip-retrieval']),
    retrievalScifact: values.scifact === true,
    skipSearch: skipped('search', values['skip-search']),
    searchChunks: positiveInt('search-chunks', values['search-chunks'], 100_000),
    searchQueries: positiveInt('search-queries', values['search-queries'], 200),
    searchKeepDb: values['search-keep-db'] === true,
    outDir: path.resolve(repoRoot, values.out ?? 'bench/results'),
  };
}
