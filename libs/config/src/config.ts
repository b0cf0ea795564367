import { z } from 'zod';

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
  DATABASE_URL: z.string().startsWith('postgres').default('postgresql://postgres@127.0.0.1:5432/quarry'),
  DATABASE_POOL_MAX: int(10, 1),
  NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  NATS_CONNECT_TIMEOUT_MS: int(5000, 100),
  MAX_UPLOAD_BYTES: int(100 * 1024 * 1024, 1),
  MAX_FILES_PER_UPLOAD: int(20, 1),
  QUARRY_BOOTSTRAP_API_KEY: z.string().min(8).optional(),
  EMBEDDING_PROVIDER: z.enum(['local', 'openai']).default('local'),
  EMBEDDING_BATCH_SIZE: int(16, 1),
  OPENAI_BASE_URL: z.url().default('https://api.openai.com/v1'),
  OPENAI_API_KEY: z.string().optional(),
  EMBEDDING_MODEL: z.string().default('text-embedding-3-small'),
  EMBEDDING_DIM: int(1536, 1),
  EMBEDDING_TIMEOUT_MS: int(30000, 100),
  CHUNK_MAX_TOKENS: int(256, 16),
  CHUNK_OVERLAP_TOKENS: int(32, 0),
  INGEST_CONCURRENCY: int(2, 1),
  ANALYSIS_CONCURRENCY: int(2, 1),
  INGEST_BULK_CONCURRENCY: int(1, 1),
  ANALYSIS_BULK_CONCURRENCY: int(1, 1),
  BULK_THRESHOLD_DOCUMENTS: int(10, 1),
  ACK_WAIT_MS: int(30000, 1000),
  MAX_DELIVER: int(5, 1),
  RETRY_BASE_DELAY_MS: int(1000, 10),
  RETRY_MAX_DELAY_MS: int(60000, 10),
  DUPLICATE_WINDOW_MS: int(120000, 1000),
  EVENTS_MAX_AGE_MS: int(7 * 24 * 3600 * 1000, 1000),
  DLQ_MAX_AGE_MS: int(30 * 24 * 3600 * 1000, 1000),
  /** Copies of each stream and the blob bucket; 3 on a three-node cluster (JetStream allows 1 to 5). */
  NATS_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  PDF_TIMEOUT_MS: int(120000, 1),
  PARSER_MAX_MEMORY_MB: int(512, 32),
  OUTBOX_RELAY_INTERVAL_MS: int(1000, 10),
  OUTBOX_RELAY_GRACE_MS: int(2000, 0),
  SWEEP_INTERVAL_MS: int(30_000, 10),
  STALL_AFTER_MS: int(5 * 60_000, 10),
  MAX_REDRIVES: int(3, 0),
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
  http: { host: string; port: number; publicUrl: string | undefined };
  database: { url: string; poolMax: number };
  nats: { url: string; connectTimeoutMs: number };
  /** An upload with more documents than bulkThreshold goes to the bulk lane unless it asks otherwise. */
  uploads: { maxBytes: number; maxFiles: number; bulkThreshold: number };
  bootstrapApiKey: string | undefined;
  embedding: {
    provider: 'local' | 'openai';
    batchSize: number;
    timeoutMs: number;
    openai: { baseUrl: string; apiKey: string | undefined; model: string; dim: number };
  };
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
  };
  streams: { eventsMaxAgeMs: number; dlqMaxAgeMs: number; replicas: number };
  parsing: { pdfTimeoutMs: number; maxMemoryMb: number };
  outbox: { relayIntervalMs: number; relayGraceMs: number };
  /**
   * The gateway's leader-only housekeeping: the stuck-job sweeper (jobs with no heartbeat for
   * stallAfterMs whose commands are no longer in the work queue get them re-published, up to
   * maxRedrives times) and retention of terminal jobs, sent outbox rows and dead letters.
   */
  maintenance: {
    sweepIntervalMs: number;
    stallAfterMs: number;
    maxRedrives: number;
    retentionIntervalMs: number;
    jobRetentionMs: number;
    deadLetterRetentionMs: number;
    outboxRetentionMs: number;
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
  return {
    env: e.NODE_ENV,
    namespace: e.QUARRY_NAMESPACE,
    http: { host: e.HOST, port: e.PORT, publicUrl: e.PUBLIC_URL },
    database: { url: e.DATABASE_URL, poolMax: e.DATABASE_POOL_MAX },
    nats: { url: e.NATS_URL, connectTimeoutMs: e.NATS_CONNECT_TIMEOUT_MS },
    uploads: {
      maxBytes: e.MAX_UPLOAD_BYTES,
      maxFiles: e.MAX_FILES_PER_UPLOAD,
      bulkThreshold: e.BULK_THRESHOLD_DOCUMENTS,
    },
    bootstrapApiKey: e.QUARRY_BOOTSTRAP_API_KEY,
    embedding: {
      provider: e.EMBEDDING_PROVIDER,
      batchSize: e.EMBEDDING_BATCH_SIZE,
      timeoutMs: e.EMBEDDING_TIMEOUT_MS,
      openai: {
        baseUrl: e.OPENAI_BASE_URL,
        apiKey: e.OPENAI_API_KEY,
        model: e.EMBEDDING_MODEL,
        dim: e.EMBEDDING_DIM,
      },
    },
    chunking: { maxTokens: e.CHUNK_MAX_TOKENS, overlapTokens: e.CHUNK_OVERLAP_TOKENS },
    workers: {
      ingestConcurrency: e.INGEST_CONCURRENCY,
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
    },
    streams: {
      eventsMaxAgeMs: e.EVENTS_MAX_AGE_MS,
      dlqMaxAgeMs: e.DLQ_MAX_AGE_MS,
      replicas: e.NATS_STREAM_REPLICAS,
    },
    parsing: { pdfTimeoutMs: e.PDF_TIMEOUT_MS, maxMemoryMb: e.PARSER_MAX_MEMORY_MB },
    outbox: { relayIntervalMs: e.OUTBOX_RELAY_INTERVAL_MS, relayGraceMs: e.OUTBOX_RELAY_GRACE_MS },
    maintenance: {
      sweepIntervalMs: e.SWEEP_INTERVAL_MS,
      stallAfterMs: e.STALL_AFTER_MS,
      maxRedrives: e.MAX_REDRIVES,
      retentionIntervalMs: e.RETENTION_INTERVAL_MS,
      jobRetentionMs: e.JOB_RETENTION_MS,
      deadLetterRetentionMs: e.DEAD_LETTER_RETENTION_MS,
      outboxRetentionMs: e.OUTBOX_RETENTION_MS,
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
