import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { LOCAL_EMBEDDING_MODEL, type JobType } from '@quarry/contracts';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);

/**
 * The environment, read once at boot, validated, typed. Nothing else in Quarry reads `process.env`;
 * an invalid value stops the process before it touches NATS or PostgreSQL.
 */
const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  QUARRY_NAMESPACE: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,30}$/)
    .default('quarry'),
  HOST: z.string().default('0.0.0.0'),
  PORT: int(3000, 0),
  PUBLIC_URL: z.url().optional(),
  /** Jaeger's web UI (e.g. http://127.0.0.1:16686): the console links a job to its trace there when set. */
  JAEGER_UI_URL: z.url().optional(),
  DATABASE_URL: z.string().startsWith('postgres').default('postgresql://postgres@127.0.0.1:5432/quarry'),
  DATABASE_POOL_MAX: int(10, 1),
  // The analysis worker's second pool, for searches only (ADR 27 §12, §13): a hybrid search holds up to three
  // connections at once (fewer only make its statements wait for one).
  DATABASE_SEARCH_POOL_MAX: int(4, 2),
  NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  NATS_CONNECT_TIMEOUT_MS: int(5000, 100),
  MAX_UPLOAD_BYTES: int(100 * 1024 * 1024, 1),
  // Blobs up to this size are one message in a key-value bucket instead of chunks in the object store (ADR 21);
  // unset, as large as the NATS server's max_payload allows.
  BLOB_INLINE_MAX_BYTES: z.coerce.number().int().min(0).optional(),
  MAX_FILES_PER_UPLOAD: int(20, 1),
  QUARRY_BOOTSTRAP_API_KEY: z.string().min(8).optional(),
  /**
   * Requests one API key may make per minute, counted across every gateway replica in PostgreSQL (ADR 31), and how
   * many of them may come at once. 0: no limit (and no statement per request).
   */
  RATE_LIMIT_PER_MINUTE: int(600, 0),
  RATE_LIMIT_BURST: int(100, 1),
  EMBEDDING_PROVIDER: z.enum(['local', 'openai']).default('local'),
  EMBEDDING_BATCH_SIZE: int(16, 1),
  /**
   * Worker threads of the local embedding model, each with its own copy. One by default: on 2 cores a second thread
   * measured no faster (bench retrieval part), the model's runtime already using more than one core.
   */
  EMBEDDING_THREADS: int(1, 1),
  OPENAI_BASE_URL: z.url().default('https://api.openai.com/v1'),
  OPENAI_API_KEY: z.string().optional(),
  EMBEDDING_MODEL: z.string().default('text-embedding-3-small'),
  EMBEDDING_DIM: int(1536, 1),
  EMBEDDING_TIMEOUT_MS: int(30000, 100),
  /**
   * A language model for the analyses (ADR 29): any server speaking OpenAI's chat completions with structured
   * outputs (OpenAI, Azure-compatible proxies, Ollama, vLLM). Unset, the analyses run offline and `extract` is 422.
   */
  LLM_BASE_URL: z.url().optional(),
  LLM_API_KEY: z.string().optional(),
  LLM_MODEL: z.string().optional(),
  LLM_TIMEOUT_MS: int(60000, 100),
  /** Characters of a document's text one request carries at most (its beginning): bounds tokens per call. */
  LLM_MAX_INPUT_CHARS: int(12000, 500),
  CHUNK_MAX_TOKENS: int(256, 16),
  CHUNK_OVERLAP_TOKENS: int(32, 0),
  // 0: one more than the cores — while one document waits on PostgreSQL or the blob store, another's parser runs.
  INGEST_CONCURRENCY: int(0, 0),
  ANALYSIS_CONCURRENCY: int(2, 1),
  INGEST_BULK_CONCURRENCY: int(1, 1),
  ANALYSIS_BULK_CONCURRENCY: int(1, 1),
  BULK_THRESHOLD_DOCUMENTS: int(10, 1),
  ACK_WAIT_MS: int(30000, 1000),
  MAX_DELIVER: int(5, 1),
  RETRY_BASE_DELAY_MS: int(1000, 10),
  RETRY_MAX_DELAY_MS: int(60000, 10),
  DUPLICATE_WINDOW_MS: int(120000, 1000),
  /**
   * Messages a worker's consumer pulls beyond its free slots, waiting in a fair share across tenants (issue 11): a
   * tenant's message this far back in its lane starts at the next free slot. 0 keeps plain queue order.
   */
  TENANT_FAIR_LOOKAHEAD: int(500, 0),
  EVENTS_MAX_AGE_MS: int(7 * 24 * 3600 * 1000, 1000),
  DLQ_MAX_AGE_MS: int(30 * 24 * 3600 * 1000, 1000),
  /** Copies of each stream and the blob bucket; 3 on a three-node cluster (JetStream allows 1 to 5). */
  NATS_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  /** Wall-clock limit of one parser run (a whole DOCX, a PDF's text layer); OCR has its own per page. */
  PARSER_TIMEOUT_MS: int(120000, 1),
  /** The name before PARSER_TIMEOUT_MS; still honoured when the new one is unset. */
  PDF_TIMEOUT_MS: int(120000, 1).optional(),
  /**
   * Resident memory of one parser process or OCR process (heap, decoded data, native buffers); a parser host
   * starts at about 65 MB and tesseract needs 60–130 MB on a 300-dpi page, hence the floor.
   */
  PARSER_MAX_MEMORY_MB: int(512, 192),
  PARSER_MAX_PAGES: int(2000, 1),
  /** One image or rendered page, width × height; decompression bombs fail before they are decoded. */
  IMAGE_MAX_PIXELS: int(100_000_000, 1),
  ARCHIVE_MAX_ENTRIES: int(10_000, 1),
  ARCHIVE_MAX_UNCOMPRESSED_BYTES: int(512 * 1024 * 1024, 1),
  /** How deep documents found inside documents go (an e-mail attached to an e-mail …). */
  MAX_NESTING_DEPTH: int(5, 0),
  /** Parser processes kept by each ingest worker; 0: one per message it handles at once. */
  PARSER_PROCESSES: int(0, 0),
  OCR_ENGINE: z.enum(['auto', 'cli', 'js']).default('auto'),
  /** Tesseract language codes joined by '+' (eng+deu); each needs its traineddata installed. */
  OCR_LANGUAGES: z
    .string()
    .regex(/^[a-z][a-z_]{1,15}(\+[a-z][a-z_]{1,15})*$/, "tesseract codes joined by '+', e.g. eng+deu")
    .default('eng'),
  /** Tesseract processes at once per ingest worker; 0: one per core. */
  OCR_CONCURRENCY: int(0, 0),
  /** Pages whose mean word confidence (0–100) is below this are flagged on their document. */
  OCR_MIN_CONFIDENCE: z.coerce.number().min(0).max(100).default(60),
  OCR_DPI: int(300, 72),
  OCR_PAGE_TIMEOUT_MS: int(120_000, 100),
  /** A PDF page with fewer non-blank characters in its text layer than this is rendered and OCR'd. */
  PDF_OCR_MIN_CHARS: int(20, 0),
  /** Hosts (or IPs, optionally host:port) URL ingest may reach although they resolve to private addresses. */
  URL_FETCH_ALLOW_HOSTS: z.string().default(''),
  URL_FETCH_MAX_BYTES: int(100 * 1024 * 1024, 1),
  URL_FETCH_TIMEOUT_MS: int(30_000, 100),
  MAX_URLS_PER_REQUEST: int(100, 1),
  /**
   * Per tenant and calendar month (UTC): pages parsed, and embedding tokens, after which new work is refused with 429
   * quota_exceeded until the month ends (ADR 32). 0: no quota. A tenant's own (tenants.quota_*) overrides these.
   */
  QUOTA_PAGES_PER_MONTH: int(0, 0),
  QUOTA_EMBEDDING_TOKENS_PER_MONTH: int(0, 0),
  /** Firecrawl's webhook secret; POST /v1/ingest/firecrawl is off while it is unset. */
  FIRECRAWL_WEBHOOK_SECRET: z.string().min(8).optional(),
  /** A crawler delivery's body (JSON with the pages' Markdown and HTML), read whole to check its signature. */
  CRAWL_MAX_DELIVERY_BYTES: int(32 * 1024 * 1024, 1024),
  WEBHOOK_RECEIPT_RETENTION_MS: int(7 * 24 * 3600 * 1000, 1000),
  /** The events relay takes a batch at most this often: a job's progress events are coalesced to this rate. */
  EVENTS_RELAY_MIN_INTERVAL_MS: int(250, 0),
  /** Published events kept in PostgreSQL (the stream keeps its own for EVENTS_MAX_AGE_MS). */
  EVENTS_RETENTION_MS: int(24 * 3600 * 1000, 1000),
  /** Milliseconds between a failed webhook delivery's attempts, comma-separated; the delivery fails after the last. */
  WEBHOOK_RETRY_SCHEDULE_MS: z
    .string()
    .default('60000,300000,900000,3600000,21600000')
    .transform((v, ctx) => {
      const waits = v.split(',').map((x) => Number(x.trim()));
      if (waits.length === 0 || waits.some((w) => !Number.isInteger(w) || w < 0)) {
        ctx.addIssue({ code: 'custom', message: 'a comma-separated list of milliseconds' });
        return z.NEVER;
      }
      return waits;
    }),
  WEBHOOK_TIMEOUT_MS: int(10_000, 100),
  /** An endpoint whose deliveries all failed for this long is disabled (a `webhook.disabled` event says so). */
  WEBHOOK_DISABLE_AFTER_MS: int(24 * 3600 * 1000, 1000),
  /** How long a rotated-out secret keeps signing beside the new one. */
  WEBHOOK_SECRET_OVERLAP_MS: int(24 * 3600 * 1000, 0),
  /** Hosts (or IPs, optionally host:port) webhooks may post to although they resolve to private addresses. */
  WEBHOOK_ALLOW_HOSTS: z.string().default(''),
  WEBHOOK_CONCURRENCY: int(8, 1),
  WEBHOOK_MAX_PER_TENANT: int(50, 1),
  /** Heartbeat comment lines on Server-Sent Event streams. */
  SSE_HEARTBEAT_MS: int(15_000, 100),
  /** A crawl's job that hears nothing from its crawler for this long is closed by the sweeper. */
  CRAWL_IDLE_TIMEOUT_MS: int(2 * 3600 * 1000, 1000),
  OUTBOX_RELAY_INTERVAL_MS: int(1000, 10),
  OUTBOX_RELAY_GRACE_MS: int(2000, 0),
  SWEEP_INTERVAL_MS: int(30_000, 10),
  STALL_AFTER_MS: int(5 * 60_000, 10),
  MAX_REDRIVES: int(3, 0),
  /**
   * How long one step of a job may run before the sweeper fails it with `deadline_exceeded`, heartbeat or not (ADR 33):
   * a document's extraction or indexing, an analysis or a re-embed. Per job type below; each defaults to this.
   */
  STEP_DEADLINE_MS: int(30 * 60_000, 100),
  STEP_DEADLINE_MS_INGEST: z.coerce.number().int().min(100).optional(),
  STEP_DEADLINE_MS_ANALYZE: z.coerce.number().int().min(100).optional(),
  /** A re-embed moves every chunk of a tenant in one step: 6 hours unless set. */
  STEP_DEADLINE_MS_REINDEX: z.coerce.number().int().min(100).optional(),
  /** A command waiting this long while no worker pulls from its consumer makes its job say `waiting: no_worker`. */
  NO_WORKER_AFTER_MS: int(60_000, 10),
  /** An active job without a heartbeat or progress this long is listed by `GET /v1/jobs?stuck=true`. */
  STUCK_AFTER_MS: int(10 * 60_000, 10),
  RETENTION_INTERVAL_MS: int(3600_000, 10),
  JOB_RETENTION_MS: int(30 * 24 * 3600 * 1000, 1000),
  DEAD_LETTER_RETENTION_MS: int(90 * 24 * 3600 * 1000, 1000),
  OUTBOX_RETENTION_MS: int(24 * 3600 * 1000, 1000),
  SEARCH_TIMEOUT_MS: int(15000, 100),
  SHUTDOWN_TIMEOUT_MS: int(20000, 100),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: bool.default(false),
  /** Workers serve /metrics, /healthz and /readyz here (the gateway serves them on PORT). */
  METRICS_PORT: int(9464, 0),
  // The standard OpenTelemetry variables Quarry acts on; the SDK reads the rest (headers, sampler, resource).
  OTEL_SDK_DISABLED: bool.default(false),
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  OTEL_TRACES_EXPORTER: z.enum(['otlp', 'console', 'none']).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url().optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: z.enum(['http/protobuf', 'http/json']).optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: z.enum(['http/protobuf', 'http/json']).optional(),
  OTEL_BSP_SCHEDULE_DELAY: int(5000, 1),
  /** Set: the SDK's own sampler from OTEL_TRACES_SAMPLER(_ARG) replaces Quarry's root sampler. */
  OTEL_TRACES_SAMPLER: z
    .enum([
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
    ])
    .optional(),
});

export type Env = z.infer<typeof EnvSchema>;

/** Every variable Quarry reads; deploy files are checked against it, so a misspelt name fails a test. */
export const ENV_VARIABLE_NAMES: readonly (keyof Env)[] = Object.keys(EnvSchema.shape) as (keyof Env)[];

export interface AppConfig {
  env: Env['NODE_ENV'];
  namespace: string;
  /** jaegerUiUrl: where the web console links traces (JAEGER_UI_URL), unset for none. */
  http: { host: string; port: number; publicUrl: string | undefined; jaegerUiUrl: string | undefined };
  /** poolMax: the process's pool; searchPoolMax: the pool searches run on, opened only by a process that searches. */
  database: { url: string; poolMax: number; searchPoolMax: number };
  nats: { url: string; connectTimeoutMs: number };
  /** An upload with more documents than bulkThreshold goes to the bulk lane unless it asks otherwise. */
  uploads: { maxBytes: number; maxFiles: number; bulkThreshold: number };
  /**
   * Blobs of at most `inlineMaxBytes` are stored as one message (0: every blob goes to the object store;
   * undefined: the largest that fits the server's max_payload).
   */
  blobs: { inlineMaxBytes: number | undefined };
  bootstrapApiKey: string | undefined;
  /** Per API key, shared by the gateway's replicas; perMinute 0 turns the limit off. */
  rateLimit: { perMinute: number; burst: number };
  embedding: {
    provider: 'local' | 'openai';
    batchSize: number;
    /** Threads of the local model. */
    threads: number;
    timeoutMs: number;
    openai: { baseUrl: string; apiKey: string | undefined; model: string; dim: number };
  };
  /** Undefined when no language model is configured: the analyses run offline. */
  llm:
    | { baseUrl: string; apiKey: string | undefined; model: string; timeoutMs: number; maxInputChars: number }
    | undefined;
  chunking: { maxTokens: number; overlapTokens: number };
  /** Per lane (ADR 10): interactive work never waits for bulk capacity. */
  workers: {
    ingestConcurrency: number;
    analysisConcurrency: number;
    ingestBulkConcurrency: number;
    analysisBulkConcurrency: number;
  };
  delivery: {
    ackWaitMs: number;
    maxDeliver: number;
    retryBaseDelayMs: number;
    retryMaxDelayMs: number;
    duplicateWindowMs: number;
    fairLookahead: number;
  };
  streams: { eventsMaxAgeMs: number; dlqMaxAgeMs: number; replicas: number };
  /** The ingest worker's parsers and OCR (issue 8): limits that turn hostile documents into failures with a reason. */
  extraction: {
    timeoutMs: number;
    maxMemoryMb: number;
    maxPages: number;
    maxPixels: number;
    maxArchiveEntries: number;
    maxUncompressedBytes: number;
    maxNestingDepth: number;
    /** Parser processes per worker; resolved from the worker's concurrency when 0. */
    processes: number;
    ocr: {
      engine: 'auto' | 'cli' | 'js';
      languages: string[];
      /** Resolved to the number of cores when 0. */
      concurrency: number;
      minConfidence: number;
      dpi: number;
      pageTimeoutMs: number;
      pdfMinChars: number;
    };
  };
  urlFetch: { allowHosts: string[]; maxBytes: number; timeoutMs: number; maxUrlsPerRequest: number };
  /** The deployment's monthly quotas per tenant (0: none); a tenant's own override them (ADR 32). */
  quotas: { pagesPerMonth: number; embeddingTokensPerMonth: number };
  firecrawl: { webhookSecret: string | undefined; maxDeliveryBytes: number };
  outbox: { relayIntervalMs: number; relayGraceMs: number };
  events: { relayMinIntervalMs: number; retentionMs: number; sseHeartbeatMs: number };
  webhooks: {
    retryScheduleMs: number[];
    timeoutMs: number;
    disableAfterMs: number;
    secretOverlapMs: number;
    allowHosts: string[];
    concurrency: number;
    maxPerTenant: number;
  };
  /**
   * The gateway's leader-only housekeeping: the stuck-job sweeper (jobs with no heartbeat for
   * stallAfterMs whose commands are no longer in the work queue get them re-published, up to
   * maxRedrives times) and retention of terminal jobs, sent outbox rows and dead letters.
   */
  maintenance: {
    sweepIntervalMs: number;
    stallAfterMs: number;
    maxRedrives: number;
    /** Per job type: how long one of its steps may run (ADR 33). */
    stepDeadlineMs: Record<JobType, number>;
    noWorkerAfterMs: number;
    stuckAfterMs: number;
    retentionIntervalMs: number;
    jobRetentionMs: number;
    deadLetterRetentionMs: number;
    outboxRetentionMs: number;
    webhookReceiptRetentionMs: number;
    crawlIdleMs: number;
  };
  search: { timeoutMs: number };
  shutdownTimeoutMs: number;
  log: { level: Env['LOG_LEVEL']; pretty: boolean };
  metrics: { port: number };
  telemetry: TelemetryConfig;
}

/**
 * Tracing. Spans are always made (logs carry their ids); they leave the process only when an
 * exporter is configured: `OTEL_TRACES_EXPORTER=otlp` or an OTLP endpoint. With none, nothing is sent.
 */
export interface TelemetryConfig {
  enabled: boolean;
  serviceName: string | undefined;
  exporter: 'otlp' | 'console' | 'none';
  otlp: { tracesUrl: string; protocol: 'http/protobuf' | 'http/json' };
  batchDelayMs: number;
  /** The operator chose a standard sampler (OTEL_TRACES_SAMPLER); the SDK reads it and its argument. */
  samplerFromEnv: boolean;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig(source: Record<string, string | undefined> = process.env): AppConfig {
  // Empty strings mean "unset" so that `FOO= npm start` falls back to the default instead of failing.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new ConfigError(`invalid configuration:\n${problems}`);
  }
  const e = parsed.data;
  if (e.CHUNK_OVERLAP_TOKENS >= e.CHUNK_MAX_TOKENS) {
    throw new ConfigError(
      'invalid configuration:\n  CHUNK_OVERLAP_TOKENS must be smaller than CHUNK_MAX_TOKENS',
    );
  }
  if (e.RETRY_BASE_DELAY_MS > e.RETRY_MAX_DELAY_MS) {
    throw new ConfigError('invalid configuration:\n  RETRY_BASE_DELAY_MS must not exceed RETRY_MAX_DELAY_MS');
  }
  if ((e.LLM_BASE_URL === undefined) !== (e.LLM_MODEL === undefined)) {
    throw new ConfigError(
      'invalid configuration:\n  LLM_BASE_URL and LLM_MODEL go together: set both to use a language model, or neither',
    );
  }
  const ingestConcurrency = e.INGEST_CONCURRENCY || availableParallelism() + 1;
  return {
    env: e.NODE_ENV,
    namespace: e.QUARRY_NAMESPACE,
    http: { host: e.HOST, port: e.PORT, publicUrl: e.PUBLIC_URL, jaegerUiUrl: e.JAEGER_UI_URL },
    database: {
      url: e.DATABASE_URL,
      poolMax: e.DATABASE_POOL_MAX,
      searchPoolMax: e.DATABASE_SEARCH_POOL_MAX,
    },
    nats: { url: e.NATS_URL, connectTimeoutMs: e.NATS_CONNECT_TIMEOUT_MS },
    blobs: { inlineMaxBytes: e.BLOB_INLINE_MAX_BYTES },
    uploads: {
      maxBytes: e.MAX_UPLOAD_BYTES,
      maxFiles: e.MAX_FILES_PER_UPLOAD,
      bulkThreshold: e.BULK_THRESHOLD_DOCUMENTS,
    },
    bootstrapApiKey: e.QUARRY_BOOTSTRAP_API_KEY,
    rateLimit: { perMinute: e.RATE_LIMIT_PER_MINUTE, burst: e.RATE_LIMIT_BURST },
    embedding: {
      provider: e.EMBEDDING_PROVIDER,
      batchSize: e.EMBEDDING_BATCH_SIZE,
      threads: e.EMBEDDING_THREADS,
      timeoutMs: e.EMBEDDING_TIMEOUT_MS,
      openai: {
        baseUrl: e.OPENAI_BASE_URL,
        apiKey: e.OPENAI_API_KEY,
        model: e.EMBEDDING_MODEL,
        dim: e.EMBEDDING_DIM,
      },
    },
    llm:
      e.LLM_BASE_URL === undefined || e.LLM_MODEL === undefined
        ? undefined
        : {
            baseUrl: e.LLM_BASE_URL,
            apiKey: e.LLM_API_KEY,
            model: e.LLM_MODEL,
            timeoutMs: e.LLM_TIMEOUT_MS,
            maxInputChars: e.LLM_MAX_INPUT_CHARS,
          },
    chunking: { maxTokens: e.CHUNK_MAX_TOKENS, overlapTokens: e.CHUNK_OVERLAP_TOKENS },
    workers: {
      ingestConcurrency,
      analysisConcurrency: e.ANALYSIS_CONCURRENCY,
      ingestBulkConcurrency: e.INGEST_BULK_CONCURRENCY,
      analysisBulkConcurrency: e.ANALYSIS_BULK_CONCURRENCY,
    },
    delivery: {
      ackWaitMs: e.ACK_WAIT_MS,
      maxDeliver: e.MAX_DELIVER,
      retryBaseDelayMs: e.RETRY_BASE_DELAY_MS,
      retryMaxDelayMs: e.RETRY_MAX_DELAY_MS,
      duplicateWindowMs: e.DUPLICATE_WINDOW_MS,
      fairLookahead: e.TENANT_FAIR_LOOKAHEAD,
    },
    streams: {
      eventsMaxAgeMs: e.EVENTS_MAX_AGE_MS,
      dlqMaxAgeMs: e.DLQ_MAX_AGE_MS,
      replicas: e.NATS_STREAM_REPLICAS,
    },
    extraction: {
      timeoutMs:
        cleaned['PARSER_TIMEOUT_MS'] === undefined
          ? (e.PDF_TIMEOUT_MS ?? e.PARSER_TIMEOUT_MS)
          : e.PARSER_TIMEOUT_MS,
      maxMemoryMb: e.PARSER_MAX_MEMORY_MB,
      maxPages: e.PARSER_MAX_PAGES,
      maxPixels: e.IMAGE_MAX_PIXELS,
      maxArchiveEntries: e.ARCHIVE_MAX_ENTRIES,
      maxUncompressedBytes: e.ARCHIVE_MAX_UNCOMPRESSED_BYTES,
      maxNestingDepth: e.MAX_NESTING_DEPTH,
      processes: e.PARSER_PROCESSES || ingestConcurrency + e.INGEST_BULK_CONCURRENCY,
      ocr: {
        engine: e.OCR_ENGINE,
        languages: e.OCR_LANGUAGES.split('+'),
        concurrency: e.OCR_CONCURRENCY || availableParallelism(),
        minConfidence: e.OCR_MIN_CONFIDENCE,
        dpi: e.OCR_DPI,
        pageTimeoutMs: e.OCR_PAGE_TIMEOUT_MS,
        pdfMinChars: e.PDF_OCR_MIN_CHARS,
      },
    },
    urlFetch: {
      allowHosts: e.URL_FETCH_ALLOW_HOSTS.split(',')
        .map((h) => h.trim())
        .filter((h) => h !== ''),
      maxBytes: e.URL_FETCH_MAX_BYTES,
      timeoutMs: e.URL_FETCH_TIMEOUT_MS,
      maxUrlsPerRequest: e.MAX_URLS_PER_REQUEST,
    },
    quotas: {
      pagesPerMonth: e.QUOTA_PAGES_PER_MONTH,
      embeddingTokensPerMonth: e.QUOTA_EMBEDDING_TOKENS_PER_MONTH,
    },
    firecrawl: { webhookSecret: e.FIRECRAWL_WEBHOOK_SECRET, maxDeliveryBytes: e.CRAWL_MAX_DELIVERY_BYTES },
    outbox: { relayIntervalMs: e.OUTBOX_RELAY_INTERVAL_MS, relayGraceMs: e.OUTBOX_RELAY_GRACE_MS },
    events: {
      relayMinIntervalMs: e.EVENTS_RELAY_MIN_INTERVAL_MS,
      retentionMs: e.EVENTS_RETENTION_MS,
      sseHeartbeatMs: e.SSE_HEARTBEAT_MS,
    },
    webhooks: {
      retryScheduleMs: e.WEBHOOK_RETRY_SCHEDULE_MS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      disableAfterMs: e.WEBHOOK_DISABLE_AFTER_MS,
      secretOverlapMs: e.WEBHOOK_SECRET_OVERLAP_MS,
      allowHosts: e.WEBHOOK_ALLOW_HOSTS.split(',')
        .map((h) => h.trim())
        .filter((h) => h !== ''),
      concurrency: e.WEBHOOK_CONCURRENCY,
      maxPerTenant: e.WEBHOOK_MAX_PER_TENANT,
    },
    maintenance: {
      sweepIntervalMs: e.SWEEP_INTERVAL_MS,
      stallAfterMs: e.STALL_AFTER_MS,
      maxRedrives: e.MAX_REDRIVES,
      stepDeadlineMs: {
        ingest: e.STEP_DEADLINE_MS_INGEST ?? e.STEP_DEADLINE_MS,
        analyze: e.STEP_DEADLINE_MS_ANALYZE ?? e.STEP_DEADLINE_MS,
        reindex: e.STEP_DEADLINE_MS_REINDEX ?? Math.max(e.STEP_DEADLINE_MS, 6 * 3600_000),
      },
      noWorkerAfterMs: e.NO_WORKER_AFTER_MS,
      stuckAfterMs: e.STUCK_AFTER_MS,
      retentionIntervalMs: e.RETENTION_INTERVAL_MS,
      jobRetentionMs: e.JOB_RETENTION_MS,
      deadLetterRetentionMs: e.DEAD_LETTER_RETENTION_MS,
      outboxRetentionMs: e.OUTBOX_RETENTION_MS,
      webhookReceiptRetentionMs: e.WEBHOOK_RECEIPT_RETENTION_MS,
      crawlIdleMs: e.CRAWL_IDLE_TIMEOUT_MS,
    },
    search: { timeoutMs: e.SEARCH_TIMEOUT_MS },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    log: { level: e.LOG_LEVEL, pretty: e.LOG_PRETTY },
    metrics: { port: e.METRICS_PORT },
    telemetry: telemetryConfig(e),
  };
}

function telemetryConfig(e: Env): TelemetryConfig {
  const endpoint = e.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/+$/, '');
  // The signal-specific endpoint is used as is; the general one gets the signal's path (OTLP spec).
  const tracesUrl =
    e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${endpoint ?? 'http://localhost:4318'}/v1/traces`;
  const configured = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined || endpoint !== undefined;
  return {
    enabled: !e.OTEL_SDK_DISABLED,
    serviceName: e.OTEL_SERVICE_NAME,
    exporter: e.OTEL_TRACES_EXPORTER ?? (configured ? 'otlp' : 'none'),
    otlp: {
      tracesUrl,
      protocol: e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
    },
    batchDelayMs: e.OTEL_BSP_SCHEDULE_DELAY,
    samplerFromEnv: e.OTEL_TRACES_SAMPLER !== undefined,
  };
}

/** Nest injection token for the typed configuration. */
export const APP_CONFIG = Symbol('APP_CONFIG');

/** The id of the model the workers embed with, as stored with every vector (`openai:<model>` or the local one's). */
export function embeddingModelId(embedding: AppConfig['embedding']): string {
  return embedding.provider === 'openai' ? `openai:${embedding.openai.model}` : LOCAL_EMBEDDING_MODEL;
}
